// .npz reading and writing: the zip container is libzip's; around it, our checks that turn each
// failure into one line naming the file and the array, and the .npy preamble inside each entry.
#include "apps/vsae/data/npz.hpp"

#include <zip.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/core/check.hpp"

namespace vsae::data {

namespace {

constexpr int kDeflateLevel = 6;  // zlib's default, as numpy.savez_compressed uses
// Deflate expands at most 1032:1; an entry claiming more than that cannot be real.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kDeflateSlack = 1024;
constexpr time_t kFixedMtime = 315532800;  // 1980-01-01: the same archive bytes for the same data

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

std::string libzip_message(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string m = zip_error_strerror(&e);
  zip_error_fini(&e);
  return m;
}

bool starts_like_zip(const std::string& path) {
  unsigned char magic[4] = {};
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  const bool whole = std::fread(magic, 1, 4, f) == 4;
  std::fclose(f);
  return whole && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

zip_t* open_archive(const std::string& path) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (z) return z;
  const std::string why = " (libzip: " + libzip_message(code) + ")";
  switch (code) {
    case ZIP_ER_NOZIP:
      if (starts_like_zip(path))
        fail(path, "truncated or damaged zip archive (no end-of-central-directory record)");
      fail(path, "not an .npz file (not a zip archive)");
    case ZIP_ER_INCONS:
    case ZIP_ER_READ:
    case ZIP_ER_SEEK:
    case ZIP_ER_EOF:
      fail(path, "truncated or damaged zip archive" + why);
    case ZIP_ER_MULTIDISK:
      fail(path, "is a multi-disk zip archive, which is not supported");
    default:
      fail(path, "cannot open as a zip archive" + why);
  }
}

}  // namespace

// ---- reading -------------------------------------------------------------------------------

struct NpzReader::Array::Stream {
  std::string path;
  std::string name;  // the array's name, without ".npy"
  std::uint64_t size = 0;  // uncompressed entry bytes
  std::uint64_t produced = 0;
  zip_file_t* file = nullptr;

  ~Stream() {
    if (file) zip_fclose(file);
  }

  [[noreturn]] void corrupt(const std::string& what) const {
    fail(path, "array '" + name + "' " + what);
  }

  [[noreturn]] void read_failed() const {
    zip_error_t* e = zip_file_get_error(file);
    const std::string why = std::string(" (libzip: ") + zip_error_strerror(e) + ")";
    switch (zip_error_code_zip(e)) {
      case ZIP_ER_CRC:
        corrupt("fails its CRC-32 check: the data is corrupt");
      case ZIP_ER_ZLIB:
      case ZIP_ER_COMPRESSED_DATA:
        corrupt("has corrupt compressed data" + why);
      case ZIP_ER_READ:
      case ZIP_ER_SEEK:
      case ZIP_ER_EOF:
        corrupt("cannot be read to its end (file truncated?)" + why);
      default:
        corrupt("cannot be read" + why);
    }
  }

  void read(void* dst, std::size_t bytes) {
    if (produced + bytes > size)
      corrupt("holds " + std::to_string(size) + " bytes, fewer than its .npy header declares");
    for (std::size_t done = 0; done < bytes;) {
      const zip_int64_t n = zip_fread(file, static_cast<char*>(dst) + done, bytes - done);
      if (n < 0) read_failed();
      if (n == 0) corrupt("has data that ends early (file truncated?)");
      done += static_cast<std::size_t>(n);
    }
    produced += bytes;
  }
};

NpzReader::Array::Array(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
NpzReader::Array::Array(Array&&) noexcept = default;
NpzReader::Array::~Array() = default;

void NpzReader::Array::read(void* dst, std::size_t bytes) {
  stream_->read(dst, bytes);
}

void NpzReader::Array::finish() {
  Stream& s = *stream_;
  if (s.produced != s.size)
    s.corrupt("holds " + std::to_string(s.size) + " bytes, more than its .npy header declares");
  // libzip checks the CRC-32 when a read reaches the entry's end.
  char extra = 0;
  const zip_int64_t n = zip_fread(s.file, &extra, 1);
  if (n < 0) s.read_failed();
  if (n > 0) s.corrupt("holds more data than its zip entry's size says (damaged archive)");
}

struct NpzReader::Impl {
  zip_t* zip = nullptr;
  std::uint64_t file_size = 0;
  ~Impl() {
    if (zip) zip_discard(zip);
  }
};

NpzReader::NpzReader(const std::string& path) : path_(path), impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, "file not found");
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not an .npz file");
  impl_->file_size = std::filesystem::file_size(path, ec);
  if (ec) fail(path, "cannot open: " + ec.message());
  if (impl_->file_size == 0) fail(path, "file is empty");
  impl_->zip = open_archive(path);
}

NpzReader::~NpzReader() = default;

bool NpzReader::contains(const std::string& array) const {
  return zip_name_locate(impl_->zip, (array + ".npy").c_str(), 0) >= 0;
}

NpzReader::Array NpzReader::open(const std::string& array) {
  const zip_int64_t index = zip_name_locate(impl_->zip, (array + ".npy").c_str(), 0);
  if (index < 0) {
    std::string names;
    const zip_int64_t n = zip_get_num_entries(impl_->zip, 0);
    for (zip_int64_t i = 0; i < n; ++i) {
      const char* name = zip_get_name(impl_->zip, static_cast<zip_uint64_t>(i), 0);
      names += (names.empty() ? "" : ", ") + std::string(name ? name : "?");
    }
    fail(path_, "missing array '" + array +
                    "' (the archive holds: " + (names.empty() ? "nothing" : names) + ")");
  }
  auto s = std::make_unique<Array::Stream>();
  s->path = path_;
  s->name = array;
  zip_stat_t st;
  if (zip_stat_index(impl_->zip, static_cast<zip_uint64_t>(index), 0, &st) != 0)
    s->corrupt(std::string("has a damaged zip entry (libzip: ") + zip_strerror(impl_->zip) + ")");
  if (st.encryption_method != ZIP_EM_NONE) s->corrupt("is encrypted, which is not supported");
  if (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE)
    s->corrupt("uses zip compression method " + std::to_string(st.comp_method) +
               " (only stored and deflate are supported)");
  if (st.comp_size > impl_->file_size)
    s->corrupt("has " + std::to_string(st.comp_size) + " stored bytes but the file has only " +
               std::to_string(impl_->file_size) + " (file truncated)");
  const bool stored = st.comp_method == ZIP_CM_STORE;
  if ((stored && st.size != st.comp_size) ||
      (!stored && st.size > st.comp_size * kMaxDeflateRatio + kDeflateSlack))
    s->corrupt("claims " + std::to_string(st.size) + " bytes from " +
               std::to_string(st.comp_size) + " stored bytes, which " +
               (stored ? "must be equal" : "deflate cannot produce") + " (damaged archive)");
  s->size = st.size;
  s->file = zip_fopen_index(impl_->zip, static_cast<zip_uint64_t>(index), 0);
  if (!s->file)
    s->corrupt(std::string("cannot be opened (libzip: ") + zip_strerror(impl_->zip) + ")");

  Array a(std::move(s));
  Array::Stream& stream = *a.stream_;
  a.header_ = read_npy_preamble([&](void* dst, std::size_t n) { stream.read(dst, n); },
                                stream.size, [&](const std::string& what) { stream.corrupt(what); });
  return a;
}

// ---- writing -------------------------------------------------------------------------------

struct NpzWriter::Impl {
  struct Spooled {
    std::string entry;  // "name.npy"
    std::string file;   // the temporary .npy beside the archive
  };
  std::string path;
  bool compress = false;
  bool closed = false;
  std::vector<Spooled> arrays;
  std::FILE* current = nullptr;  // the spool file of the array being written
  std::uint64_t data_left = 0;   // its bytes still expected

  ~Impl() {
    if (current) std::fclose(current);
    for (const Spooled& a : arrays) std::remove(a.file.c_str());
  }

  void put(const void* data, std::size_t bytes) {
    if (bytes > 0 && std::fwrite(data, 1, bytes, current) != bytes)
      fail(path, std::string("write failed: ") + std::strerror(errno));
  }
};

NpzWriter::NpzWriter(const std::string& path, bool compress) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->compress = compress;
}

NpzWriter::~NpzWriter() = default;

void NpzWriter::begin(const std::string& name, const NpyHeader& header) {
  Impl& w = *impl_;
  VSAE_CHECK(!w.current && !w.closed, "NpzWriter::begin while another array is open");
  const std::string spool = w.path + ".spool" + std::to_string(w.arrays.size());
  w.current = std::fopen(spool.c_str(), "wb");
  if (!w.current) fail(w.path, std::string("cannot create the file: ") + std::strerror(errno));
  w.arrays.push_back({name + ".npy", spool});
  const std::vector<std::uint8_t> preamble = npy_preamble(header);
  w.put(preamble.data(), preamble.size());
  w.data_left = static_cast<std::uint64_t>(header.count()) * npy_item_size(header.descr);
}

void NpzWriter::write(const void* data, std::size_t bytes) {
  Impl& w = *impl_;
  VSAE_CHECK(w.current, "NpzWriter::write outside begin()/end()");
  VSAE_CHECK(bytes <= w.data_left,
             "array '" << w.arrays.back().entry << "' gets more data than its shape holds");
  w.put(data, bytes);
  w.data_left -= bytes;
}

void NpzWriter::end() {
  Impl& w = *impl_;
  VSAE_CHECK(w.current, "NpzWriter::end without begin()");
  VSAE_CHECK(w.data_left == 0, "array '" << w.arrays.back().entry << "' is " << w.data_left
                                         << " bytes short of its shape");
  const bool ok = std::fclose(w.current) == 0;
  w.current = nullptr;
  if (!ok) fail(w.path, std::string("write failed: ") + std::strerror(errno));
}

void NpzWriter::close() {
  Impl& w = *impl_;
  VSAE_CHECK(!w.current && !w.closed, "NpzWriter::close with an array still open");
  VSAE_CHECK(!w.arrays.empty(), "NpzWriter::close without arrays (libzip writes no empty archive)");
  int code = 0;
  zip_t* z = zip_open(w.path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  if (!z) fail(w.path, "cannot create the archive (libzip: " + libzip_message(code) + ")");
  auto give_up = [&](const std::string& what) {
    const std::string why = std::string(" (libzip: ") + zip_strerror(z) + ")";
    zip_discard(z);
    fail(w.path, what + why);
  };
  for (const Impl::Spooled& a : w.arrays) {
    zip_source_t* src = zip_source_file(z, a.file.c_str(), 0, -1);
    if (!src) give_up("cannot read back the spooled array " + a.entry);
    const zip_int64_t index = zip_file_add(z, a.entry.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(src);
      give_up("cannot add " + a.entry);
    }
    const auto i = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(z, i, w.compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE,
                                 w.compress ? kDeflateLevel : 0) != 0 ||
        zip_file_set_mtime(z, i, kFixedMtime, 0) != 0)
      give_up("cannot set up " + a.entry);
  }
  // libzip writes a temporary file and renames it over `path` once it is complete.
  if (zip_close(z) != 0) give_up("write failed");
  w.closed = true;
}

}  // namespace vsae::data
