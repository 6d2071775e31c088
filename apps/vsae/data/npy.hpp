// The .npy array format (numpy.lib.format): a preamble (magic, version, header length, and a
// Python dict literal with the dtype, the memory order and the shape), then the raw data. This is
// the part of .npz files that is ours; the zip container around it is libzip's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace vsae::data {

// The header of one .npy array: numpy's dtype string ('|u1', '<i8', '<f8', ...) and C-order shape.
struct NpyHeader {
  std::string descr;
  std::vector<std::int64_t> shape;
  std::int64_t count() const;     // number of elements
  std::string shape_str() const;  // "(737280, 64, 64)"
};

// Bytes per element of a numeric dtype such as '<f8' or '|u1'; 0 for other kinds (objects,
// strings), whose data size is not checked.
std::size_t npy_item_size(const std::string& descr);

// The preamble numpy writes for `header`, padded so that the data starts 64-byte aligned.
std::vector<std::uint8_t> npy_preamble(const NpyHeader& header);

// Reads and checks the preamble of an .npy array of `total` bytes through `read` (which hands out
// the array's next n bytes). For numeric dtypes the data after the preamble must be exactly
// count() elements. Every problem is passed to `bad` as one phrase ("has a malformed .npy
// header"); `bad` must throw.
using NpyRead = std::function<void(void* dst, std::size_t bytes)>;
using NpyComplaint = std::function<void(const std::string& what)>;
NpyHeader read_npy_preamble(const NpyRead& read, std::uint64_t total, const NpyComplaint& bad);

// Writes one standalone .npy file (numpy.load reads it) atomically: `data` holds header.count()
// elements of header.descr in C order.
void write_npy(const std::string& path, const NpyHeader& header, const void* data);

}  // namespace vsae::data
