// .npz archives as numpy writes them: a zip (stored or deflate, zip64) of .npy arrays, through
// libzip. Arrays are streamed in pieces, so multi-gigabyte entries never need a second copy in
// memory. Other entries (such as dSprites' pickled `metadata`) are listed but never read, let
// alone unpickled.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "apps/vsae/data/npy.hpp"

namespace vsae::data {

// Reads entries of an .npz file. Every error is a vsae::Error that starts with "<path>: ".
class NpzReader {
 public:
  explicit NpzReader(const std::string& path);  // reads the zip central directory
  ~NpzReader();
  NpzReader(const NpzReader&) = delete;
  NpzReader& operator=(const NpzReader&) = delete;

  const std::string& path() const { return path_; }
  bool contains(const std::string& array) const;  // `array` without ".npy"

  // One array being read: its header, then its data in order, in pieces of any size.
  class Array {
   public:
    ~Array();
    Array(Array&&) noexcept;
    Array(const Array&) = delete;
    Array& operator=(const Array&) = delete;
    Array& operator=(Array&&) = delete;

    const NpyHeader& header() const { return header_; }
    // The next `bytes` bytes of the array's data.
    void read(void* dst, std::size_t bytes);
    // Checks that all data was read and that the entry's CRC-32 matches.
    void finish();

   private:
    friend class NpzReader;
    struct Stream;
    explicit Array(std::unique_ptr<Stream> stream);
    std::unique_ptr<Stream> stream_;
    NpyHeader header_;
  };

  // Opens `array` and parses its .npy header; throws when it is missing or malformed.
  Array open(const std::string& array);

 private:
  struct Impl;
  std::string path_;
  std::unique_ptr<Impl> impl_;
};

// Writes an .npz file that numpy.load reads: each array is stored or deflate-compressed (as
// numpy.savez_compressed does; zip64 where an entry exceeds 4 GiB). Each array is spooled to a
// temporary .npy file beside `path` until close(), which lets libzip build the archive from them:
// memory stays bounded, and the disk briefly holds the uncompressed arrays.
class NpzWriter {
 public:
  NpzWriter(const std::string& path, bool compress);
  ~NpzWriter();  // an unfinished archive never appears; its spool files are removed
  NpzWriter(const NpzWriter&) = delete;
  NpzWriter& operator=(const NpzWriter&) = delete;

  // Starts array `name` (without ".npy"); its data follows through write() in C order.
  void begin(const std::string& name, const NpyHeader& header);
  void write(const void* data, std::size_t bytes);
  void end();    // checks that the data matched the header's size
  void close();  // builds the archive; `path` appears, complete, only then

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vsae::data
