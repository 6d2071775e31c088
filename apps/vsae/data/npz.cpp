// .npz reading and writing: the zip container (central directory, zip64 records, stored and
// deflate entries through zlib) and the .npy header inside each entry.
#include "apps/vsae/data/npz.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <sstream>

#include "engine/core/check.hpp"

namespace vsae::data {

namespace {

constexpr std::uint32_t kLocalSig = 0x04034b50;
constexpr std::uint32_t kCentralSig = 0x02014b50;
constexpr std::uint32_t kEndSig = 0x06054b50;
constexpr std::uint32_t kZip64EndSig = 0x06064b50;
constexpr std::uint32_t kZip64LocatorSig = 0x07064b50;
constexpr std::uint32_t kNone32 = 0xFFFFFFFF;
constexpr std::size_t kLocalHeaderSize = 30;
constexpr std::size_t kCentralHeaderSize = 46;
constexpr std::size_t kEndSize = 22;
constexpr std::size_t kZip64EndSize = 56;
constexpr std::size_t kZip64LocatorSize = 20;
constexpr std::size_t kIoChunk = std::size_t{1} << 20;
// zlib counts in 32-bit words; feed it at most this much at once.
constexpr std::size_t kZlibChunk = std::size_t{1} << 30;
constexpr int kDeflateLevel = 6;  // zlib's default, as numpy.savez_compressed uses

std::uint64_t le(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void put_le(std::vector<std::uint8_t>& out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

void read_at(std::FILE* f, const std::string& path, std::uint64_t offset, void* dst,
             std::size_t n) {
  if (fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, f) != n)
    fail(path, "read error at byte " + std::to_string(offset) + " (file truncated?)");
}

// Bytes per element of a numeric dtype such as '<f8' or '|u1'; 0 for other kinds (objects,
// strings), whose data size we do not check.
std::size_t item_size(const std::string& descr) {
  const std::size_t kind = descr.find_first_of("biufc");
  if (kind == std::string::npos || kind + 1 >= descr.size()) return 0;
  const std::string digits = descr.substr(kind + 1);
  if (digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoul(digits);
}

// The raw text of `key`'s value in numpy's header dict literal: a quoted string, a tuple or a word.
std::string dict_value(const std::string& dict, const std::string& key) {
  std::size_t at = dict.find("'" + key + "'");
  if (at == std::string::npos) at = dict.find("\"" + key + "\"");
  if (at == std::string::npos) return {};
  at = dict.find(':', at);
  if (at == std::string::npos) return {};
  at = dict.find_first_not_of(" ", at + 1);
  if (at == std::string::npos) return {};
  char open = dict[at];
  std::size_t end;
  if (open == '\'' || open == '"') {
    end = dict.find(open, at + 1);
    return end == std::string::npos ? std::string{} : dict.substr(at + 1, end - at - 1);
  }
  if (open == '(' || open == '[') {
    end = dict.find(open == '(' ? ')' : ']', at);
    return end == std::string::npos ? std::string{} : dict.substr(at, end - at + 1);
  }
  end = dict.find_first_of(", }", at);
  return end == std::string::npos ? std::string{} : dict.substr(at, end - at);
}

std::vector<std::int64_t> parse_shape(const std::string& tuple, bool* ok) {
  std::vector<std::int64_t> shape;
  *ok = tuple.size() >= 2 && tuple.front() == '(' && tuple.back() == ')';
  std::stringstream in(tuple.substr(1, tuple.size() - 2));
  std::string item;
  while (*ok && std::getline(in, item, ',')) {
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (item.empty()) continue;  // "(5,)"
    *ok = item.find_first_not_of("0123456789") == std::string::npos && item.size() < 19;
    if (*ok) shape.push_back(std::stoll(item));
  }
  return shape;
}

// The .npy preamble: magic, version, header length and the padded dict literal ending in '\n'.
std::vector<std::uint8_t> npy_preamble(const NpyHeader& h) {
  std::string dict =
      "{'descr': '" + h.descr + "', 'fortran_order': False, 'shape': " + h.shape_str() + ", }";
  // numpy pads the preamble to a multiple of 64 bytes so the data starts aligned.
  const std::size_t fixed = 6 + 2 + 2;
  std::size_t total = (fixed + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - fixed - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  put_le(out, dict.size(), 2);
  out.insert(out.end(), dict.begin(), dict.end());
  return out;
}

}  // namespace

void write_npy(const std::string& path, const NpyHeader& header, const void* data) {
  const std::vector<std::uint8_t> preamble = npy_preamble(header);
  const std::size_t bytes = static_cast<std::size_t>(header.count()) * item_size(header.descr);
  const std::string tmp = path + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  bool ok = std::fwrite(preamble.data(), 1, preamble.size(), f) == preamble.size() &&
            std::fwrite(data, 1, bytes, f) == bytes;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed: " + std::strerror(errno));
  }
}

std::int64_t NpyHeader::count() const {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string NpyHeader::shape_str() const {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// ---- reading -------------------------------------------------------------------------------

namespace {

struct ZipEntry {
  std::string name;
  std::uint16_t flags = 0, method = 0;
  std::uint32_t crc = 0;
  std::uint64_t compressed = 0, size = 0, local_offset = 0;
};

// Closes the file when the reader (or a failed constructor) lets go of it.
struct FileCloser {
  void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

// Finds the end-of-central-directory record in the last 64 KiB (it may carry a comment).
std::uint64_t find_end_record(std::FILE* f, const std::string& path, std::uint64_t size) {
  const std::uint64_t tail = std::min<std::uint64_t>(size, kEndSize + 65535);
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(tail));
  read_at(f, path, size - tail, buf.data(), buf.size());
  for (std::size_t i = buf.size() - kEndSize + 1; i-- > 0;)
    if (le(&buf[i], 4) == kEndSig) return size - tail + i;
  std::uint8_t magic[4] = {};
  read_at(f, path, 0, magic, 4);
  if (le(magic, 4) == kLocalSig)
    fail(path, "truncated or damaged zip archive (no end-of-central-directory record)");
  fail(path, "not an .npz file (not a zip archive)");
}

struct Directory {
  std::uint64_t entries = 0, size = 0, offset = 0;
};

// Reads the end record and, when present, the zip64 end record that supersedes it.
Directory read_end_records(std::FILE* f, const std::string& path, std::uint64_t file_size) {
  const std::uint64_t end_at = find_end_record(f, path, file_size);
  std::uint8_t end[kEndSize];
  read_at(f, path, end_at, end, kEndSize);
  Directory dir{le(end + 10, 2), le(end + 12, 4), le(end + 16, 4)};
  if (end_at >= kZip64LocatorSize) {
    std::uint8_t loc[kZip64LocatorSize];
    read_at(f, path, end_at - kZip64LocatorSize, loc, kZip64LocatorSize);
    if (le(loc, 4) == kZip64LocatorSig) {
      std::uint8_t end64[kZip64EndSize];
      read_at(f, path, le(loc + 8, 8), end64, kZip64EndSize);
      if (le(end64, 4) != kZip64EndSig) fail(path, "damaged zip archive (bad zip64 end record)");
      dir = Directory{le(end64 + 32, 8), le(end64 + 40, 8), le(end64 + 48, 8)};
    }
  }
  if (dir.offset + dir.size > end_at)
    fail(path, "truncated or damaged zip archive (central directory out of bounds)");
  return dir;
}

// The zip64 extended-information field holds, in order, those of the three values whose
// 32-bit fields were saturated.
void apply_zip64_extra(const std::uint8_t* extra, std::size_t len, ZipEntry& e) {
  for (std::size_t at = 0; at + 4 <= len;) {
    const std::uint64_t id = le(extra + at, 2), n = le(extra + at + 2, 2);
    const std::uint8_t* field = extra + at + 4;
    const std::uint8_t* field_end = field + std::min<std::uint64_t>(n, len - at - 4);
    if (id == 1) {
      for (std::uint64_t* v : {&e.size, &e.compressed, &e.local_offset}) {
        if (*v != kNone32 || field + 8 > field_end) continue;
        *v = le(field, 8);
        field += 8;
      }
    }
    at += 4 + n;
  }
}

std::vector<ZipEntry> read_central_directory(std::FILE* f, const std::string& path,
                                             const Directory& dir) {
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(dir.size));
  read_at(f, path, dir.offset, buf.data(), buf.size());
  std::vector<ZipEntry> entries;
  std::size_t at = 0;
  for (std::uint64_t i = 0; i < dir.entries; ++i) {
    if (at + kCentralHeaderSize > buf.size() || le(&buf[at], 4) != kCentralSig)
      fail(path, "damaged zip archive (bad central directory)");
    const std::uint8_t* h = &buf[at];
    const std::size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2),
                      comment_len = le(h + 32, 2);
    if (at + kCentralHeaderSize + name_len + extra_len + comment_len > buf.size())
      fail(path, "damaged zip archive (bad central directory)");
    ZipEntry e;
    e.flags = static_cast<std::uint16_t>(le(h + 8, 2));
    e.method = static_cast<std::uint16_t>(le(h + 10, 2));
    e.crc = static_cast<std::uint32_t>(le(h + 16, 4));
    e.compressed = le(h + 20, 4);
    e.size = le(h + 24, 4);
    e.local_offset = le(h + 42, 4);
    e.name.assign(reinterpret_cast<const char*>(h + kCentralHeaderSize), name_len);
    apply_zip64_extra(h + kCentralHeaderSize + name_len, extra_len, e);
    entries.push_back(e);
    at += kCentralHeaderSize + name_len + extra_len + comment_len;
  }
  return entries;
}

NpyHeader parse_npy_header(const std::string& dict,
                           const std::function<void(const std::string&)>& bad) {
  NpyHeader h;
  h.descr = dict_value(dict, "descr");
  if (h.descr.empty()) bad("malformed .npy header (no dtype): " + dict);
  bool ok = false;
  h.shape = parse_shape(dict_value(dict, "shape"), &ok);
  if (!ok) bad("malformed .npy header (no shape): " + dict);
  if (dict_value(dict, "fortran_order") != "False" && h.shape.size() > 1)
    bad("stored in Fortran order, which is not supported (save it with C order)");
  return h;
}

}  // namespace

struct NpzReader::Array::Stream {
  std::FILE* file;
  std::string path;
  ZipEntry entry;
  std::uint64_t next_input = 0;  // file offset of the next stored or compressed byte
  std::uint64_t input_left = 0;  // compressed bytes not yet fed to zlib
  std::uint64_t produced = 0;    // uncompressed bytes handed out
  std::uint32_t crc = 0;
  bool inflating = false;
  z_stream zs{};
  std::vector<std::uint8_t> input;

  ~Stream() {
    if (inflating) inflateEnd(&zs);
  }

  [[noreturn]] void corrupt(const std::string& what) const {
    const std::string array = entry.name.substr(0, entry.name.size() - 4);  // without ".npy"
    fail(path, "array '" + array + "' " + what);
  }

  void read(void* dst, std::size_t bytes) {
    if (produced + bytes > entry.size)
      corrupt("holds " + std::to_string(entry.size) +
              " bytes, fewer than its .npy header declares");
    if (entry.method == 0)
      read_stored(dst, bytes);
    else
      read_deflated(static_cast<std::uint8_t*>(dst), bytes);
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min(bytes - done, kZlibChunk);
      crc = static_cast<std::uint32_t>(
          crc32(crc, static_cast<const Bytef*>(dst) + done, static_cast<uInt>(n)));
      done += n;
    }
    produced += bytes;
  }

  void read_stored(void* dst, std::size_t bytes) {
    read_at(file, path, next_input, dst, bytes);
    next_input += bytes;
  }

  void read_deflated(std::uint8_t* dst, std::size_t bytes) {
    while (bytes > 0) {
      const std::size_t piece = std::min(bytes, kZlibChunk);
      zs.next_out = dst;
      zs.avail_out = static_cast<uInt>(piece);
      while (zs.avail_out > 0) {
        if (zs.avail_in == 0) refill();
        const int rc = inflate(&zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END && zs.avail_out > 0) corrupt("has compressed data that ends early");
        if (rc != Z_OK && rc != Z_STREAM_END)
          corrupt(std::string("has corrupt compressed data (zlib: ") + (zs.msg ? zs.msg : "error") +
                  ")");
      }
      dst += piece;
      bytes -= piece;
    }
  }

  void refill() {
    if (input_left == 0) corrupt("has compressed data that ends early (file truncated?)");
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(input_left, kIoChunk));
    read_at(file, path, next_input, input.data(), n);
    next_input += n;
    input_left -= n;
    zs.next_in = input.data();
    zs.avail_in = static_cast<uInt>(n);
  }
};

NpzReader::Array::Array(std::unique_ptr<Stream> stream) : stream_(std::move(stream)) {}
NpzReader::Array::Array(Array&&) noexcept = default;
NpzReader::Array::~Array() = default;

void NpzReader::Array::read(void* dst, std::size_t bytes) {
  stream_->read(dst, bytes);
}

void NpzReader::Array::finish() {
  if (stream_->produced != stream_->entry.size)
    stream_->corrupt("holds " + std::to_string(stream_->entry.size) +
                     " bytes, more than its .npy header declares");
  if (stream_->crc != stream_->entry.crc)
    stream_->corrupt("fails its CRC-32 check: the data is corrupt");
}

struct NpzReader::Impl {
  FilePtr file;
  std::uint64_t file_size = 0;
  std::vector<ZipEntry> entries;
};

NpzReader::NpzReader(const std::string& path) : path_(path), impl_(std::make_unique<Impl>()) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, "file not found");
  if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not an .npz file");
  impl_->file.reset(std::fopen(path.c_str(), "rb"));
  if (!impl_->file) fail(path, std::string("cannot open: ") + std::strerror(errno));
  std::FILE* f = impl_->file.get();
  fseeko(f, 0, SEEK_END);
  impl_->file_size = static_cast<std::uint64_t>(ftello(f));
  if (impl_->file_size == 0) fail(path, "file is empty");
  if (impl_->file_size < kEndSize) fail(path, "not an .npz file (too short for a zip archive)");
  impl_->entries = read_central_directory(f, path, read_end_records(f, path, impl_->file_size));
}

NpzReader::~NpzReader() = default;

bool NpzReader::contains(const std::string& array) const {
  return std::any_of(impl_->entries.begin(), impl_->entries.end(),
                     [&](const ZipEntry& e) { return e.name == array + ".npy"; });
}

NpzReader::Array NpzReader::open(const std::string& array) {
  auto found = std::find_if(impl_->entries.begin(), impl_->entries.end(),
                            [&](const ZipEntry& e) { return e.name == array + ".npy"; });
  if (found == impl_->entries.end()) {
    std::string names;
    for (const ZipEntry& e : impl_->entries) names += (names.empty() ? "" : ", ") + e.name;
    fail(path_, "missing array '" + array +
                    "' (the archive holds: " + (names.empty() ? "nothing" : names) + ")");
  }
  auto s = std::make_unique<Array::Stream>();
  s->file = impl_->file.get();
  s->path = path_;
  s->entry = *found;
  if (s->entry.flags & 1) s->corrupt("is encrypted, which is not supported");
  if (s->entry.method != 0 && s->entry.method != 8)
    s->corrupt("uses zip compression method " + std::to_string(s->entry.method) +
               " (only stored and deflate are supported)");

  std::uint8_t local[kLocalHeaderSize];
  read_at(s->file, path_, s->entry.local_offset, local, kLocalHeaderSize);
  if (le(local, 4) != kLocalSig) s->corrupt("has a damaged zip header");
  s->next_input = s->entry.local_offset + kLocalHeaderSize + le(local + 26, 2) + le(local + 28, 2);
  const std::uint64_t stored_bytes = s->entry.method == 0 ? s->entry.size : s->entry.compressed;
  if (s->next_input + stored_bytes > impl_->file_size)
    s->corrupt("extends to byte " + std::to_string(s->next_input + stored_bytes) +
               " but the file has only " + std::to_string(impl_->file_size) +
               " bytes (file truncated)");
  if (s->entry.method == 8) {
    s->input_left = s->entry.compressed;
    s->input.resize(kIoChunk);
    if (inflateInit2(&s->zs, -MAX_WBITS) != Z_OK)
      s->corrupt("cannot be decompressed (zlib init failed)");
    s->inflating = true;
  }

  Array a(std::move(s));
  a.header_ = read_npy_header(a);
  return a;
}

NpyHeader NpzReader::read_npy_header(Array& a) {
  Array::Stream& s = *a.stream_;
  auto bad = [&](const std::string& what) { s.corrupt(what); };
  std::uint8_t pre[10];
  if (s.entry.size < sizeof pre) bad("is not a .npy array (too short)");
  a.read(pre, sizeof pre);
  if (std::memcmp(pre, "\x93NUMPY", 6) != 0) bad("is not a .npy array (bad magic)");
  std::size_t len = le(pre + 8, 2);
  std::size_t preamble = sizeof pre + len;
  if (pre[6] >= 2) {  // versions 2 and 3 use a 4-byte header length
    std::uint8_t more[2];
    a.read(more, 2);
    len = le(pre + 8, 2) | (le(more, 2) << 16);
    preamble = sizeof pre + 2 + len;
  }
  if (len > (1u << 20) || preamble > s.entry.size) bad("has a malformed .npy header");
  std::string dict(len, '\0');
  a.read(dict.data(), len);
  NpyHeader h = parse_npy_header(dict, bad);
  const std::size_t item = item_size(h.descr);
  if (item > 0 && preamble + static_cast<std::uint64_t>(h.count()) * item != s.entry.size)
    bad("holds " + std::to_string(s.entry.size - preamble) + " data bytes but its header (shape " +
        h.shape_str() + ", dtype " + h.descr + ") needs " +
        std::to_string(h.count() * static_cast<std::int64_t>(item)));
  return h;
}

// ---- writing -------------------------------------------------------------------------------

struct NpzWriter::Impl {
  std::string path;
  FilePtr file;
  bool compress = false;
  bool closed = false;
  std::vector<ZipEntry> entries;
  // The entry being written.
  bool open = false;
  ZipEntry current;
  std::uint64_t data_left = 0;  // array bytes still expected
  z_stream zs{};
  bool deflating = false;
  std::vector<std::uint8_t> out;

  ~Impl() {
    if (deflating) deflateEnd(&zs);
  }

  void put(const void* data, std::size_t bytes) {
    if (bytes > 0 && std::fwrite(data, 1, bytes, file.get()) != bytes)
      fail(path, std::string("write failed: ") + std::strerror(errno));
  }
  std::uint64_t tell() { return static_cast<std::uint64_t>(ftello(file.get())); }

  // Feeds entry bytes to zlib (or straight to the file) and keeps the CRC and sizes.
  void feed(const std::uint8_t* data, std::size_t bytes) {
    for (std::size_t done = 0; done < bytes;) {
      const std::size_t n = std::min(bytes - done, kZlibChunk);
      current.crc =
          static_cast<std::uint32_t>(crc32(current.crc, data + done, static_cast<uInt>(n)));
      current.size += n;
      if (compress) {
        deflate_piece(data + done, n, false);
      } else {
        put(data + done, n);
        current.compressed += n;
      }
      done += n;
    }
  }

  void deflate_piece(const std::uint8_t* data, std::size_t n, bool last) {
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = static_cast<uInt>(n);
    int rc;
    do {
      zs.next_out = out.data();
      zs.avail_out = static_cast<uInt>(out.size());
      rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
      if (rc == Z_STREAM_ERROR) fail(path, "compression failed (zlib)");
      const std::size_t produced = out.size() - zs.avail_out;
      put(out.data(), produced);
      current.compressed += produced;
    } while (zs.avail_out == 0 || (last && rc != Z_STREAM_END));
  }
};

NpzWriter::NpzWriter(const std::string& path, bool compress) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  impl_->compress = compress;
  impl_->file.reset(std::fopen(path.c_str(), "wb"));
  if (!impl_->file) fail(path, std::string("cannot create the file: ") + std::strerror(errno));
  impl_->out.resize(kIoChunk);
}

NpzWriter::~NpzWriter() {
  if (impl_->closed) return;
  impl_->file.reset();
  std::remove(impl_->path.c_str());
}

void NpzWriter::begin(const std::string& name, const NpyHeader& header) {
  Impl& w = *impl_;
  VSAE_CHECK(!w.open && !w.closed, "NpzWriter::begin while another array is open");
  w.current = ZipEntry{};
  w.current.name = name + ".npy";
  w.current.method = w.compress ? 8 : 0;
  w.current.local_offset = w.tell();
  // The local header always carries zip64 sizes (as numpy's force_zip64 does); end() fills them in.
  std::vector<std::uint8_t> h;
  put_le(h, kLocalSig, 4);
  put_le(h, 45, 2);  // version needed: zip64
  put_le(h, 0, 2);
  put_le(h, w.current.method, 2);
  put_le(h, 0, 2);     // time 00:00
  put_le(h, 0x21, 2);  // date 1980-01-01
  put_le(h, 0, 4);     // CRC-32, patched in end()
  put_le(h, kNone32, 4);
  put_le(h, kNone32, 4);
  put_le(h, w.current.name.size(), 2);
  put_le(h, 20, 2);
  h.insert(h.end(), w.current.name.begin(), w.current.name.end());
  put_le(h, 1, 2);
  put_le(h, 16, 2);
  put_le(h, 0, 8);
  put_le(h, 0, 8);
  w.put(h.data(), h.size());
  if (w.compress) {
    w.zs = z_stream{};
    if (deflateInit2(&w.zs, kDeflateLevel, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      fail(w.path, "compression failed (zlib init)");
    w.deflating = true;
  }
  w.open = true;
  const std::vector<std::uint8_t> preamble = npy_preamble(header);
  w.feed(preamble.data(), preamble.size());
  w.data_left = static_cast<std::uint64_t>(header.count()) * item_size(header.descr);
}

void NpzWriter::write(const void* data, std::size_t bytes) {
  Impl& w = *impl_;
  VSAE_CHECK(w.open, "NpzWriter::write outside begin()/end()");
  VSAE_CHECK(bytes <= w.data_left,
             "array '" << w.current.name << "' gets more data than its shape holds");
  w.feed(static_cast<const std::uint8_t*>(data), bytes);
  w.data_left -= bytes;
}

void NpzWriter::end() {
  Impl& w = *impl_;
  VSAE_CHECK(w.open, "NpzWriter::end without begin()");
  VSAE_CHECK(w.data_left == 0,
             "array '" << w.current.name << "' is " << w.data_left << " bytes short of its shape");
  if (w.compress) {
    w.deflate_piece(nullptr, 0, true);
    deflateEnd(&w.zs);
    w.deflating = false;
  }
  const std::uint64_t end_at = w.tell();
  std::vector<std::uint8_t> crc, sizes;
  put_le(crc, w.current.crc, 4);
  put_le(sizes, w.current.size, 8);
  put_le(sizes, w.current.compressed, 8);
  if (fseeko(w.file.get(), static_cast<off_t>(w.current.local_offset + 14), SEEK_SET) != 0)
    fail(w.path, "seek failed");
  w.put(crc.data(), crc.size());
  const std::uint64_t extra_at =
      w.current.local_offset + kLocalHeaderSize + w.current.name.size() + 4;
  if (fseeko(w.file.get(), static_cast<off_t>(extra_at), SEEK_SET) != 0)
    fail(w.path, "seek failed");
  w.put(sizes.data(), sizes.size());
  if (fseeko(w.file.get(), static_cast<off_t>(end_at), SEEK_SET) != 0) fail(w.path, "seek failed");
  w.entries.push_back(w.current);
  w.open = false;
}

void NpzWriter::close() {
  Impl& w = *impl_;
  VSAE_CHECK(!w.open && !w.closed, "NpzWriter::close with an array still open");
  const std::uint64_t dir_at = w.tell();
  std::vector<std::uint8_t> d;
  for (const ZipEntry& e : w.entries) {
    put_le(d, kCentralSig, 4);
    put_le(d, (3 << 8) | 45, 2);  // made by: Unix, zip 4.5
    put_le(d, 45, 2);
    put_le(d, 0, 2);
    put_le(d, e.method, 2);
    put_le(d, 0, 2);
    put_le(d, 0x21, 2);
    put_le(d, e.crc, 4);
    put_le(d, kNone32, 4);
    put_le(d, kNone32, 4);
    put_le(d, e.name.size(), 2);
    put_le(d, 28, 2);  // zip64 extra: sizes and header offset
    put_le(d, 0, 2);
    put_le(d, 0, 2);
    put_le(d, 0, 2);
    put_le(d, std::uint64_t{0100644} << 16, 4);  // a regular file, rw-r--r--
    put_le(d, kNone32, 4);
    d.insert(d.end(), e.name.begin(), e.name.end());
    put_le(d, 1, 2);
    put_le(d, 24, 2);
    put_le(d, e.size, 8);
    put_le(d, e.compressed, 8);
    put_le(d, e.local_offset, 8);
  }
  const std::uint64_t dir_size = d.size();
  const std::uint64_t end64_at = dir_at + dir_size;
  put_le(d, kZip64EndSig, 4);
  put_le(d, kZip64EndSize - 12, 8);
  put_le(d, (3 << 8) | 45, 2);
  put_le(d, 45, 2);
  put_le(d, 0, 4);
  put_le(d, 0, 4);
  put_le(d, w.entries.size(), 8);
  put_le(d, w.entries.size(), 8);
  put_le(d, dir_size, 8);
  put_le(d, dir_at, 8);
  put_le(d, kZip64LocatorSig, 4);
  put_le(d, 0, 4);
  put_le(d, end64_at, 8);
  put_le(d, 1, 4);
  put_le(d, kEndSig, 4);
  put_le(d, 0, 4);
  put_le(d, 0xFFFF, 2);
  put_le(d, 0xFFFF, 2);
  put_le(d, kNone32, 4);
  put_le(d, kNone32, 4);
  put_le(d, 0, 2);
  w.put(d.data(), d.size());
  if (std::fflush(w.file.get()) != 0)
    fail(w.path, std::string("write failed: ") + std::strerror(errno));
  w.file.reset();
  w.closed = true;
}

}  // namespace vsae::data
