// The .npy preamble: writing numpy's layout, and parsing the dict literal back without a Python
// parser (only the three keys numpy writes are read).
#include "apps/vsae/data/npy.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "engine/core/check.hpp"

namespace vsae::data {

namespace {

constexpr std::size_t kFixedV1 = 10;             // magic (6), version (2), header length (2)
constexpr std::size_t kMaxDictBytes = 1u << 20;  // numpy's own limit is far smaller
constexpr std::uint64_t kMaxDataBytes = std::uint64_t{1} << 62;

std::uint64_t le(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
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
  const char open = dict[at];
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

// "(737280, 64, 64)", "(5,)" or "()"; false for anything else, or for a shape whose element count
// overflows 64 bits.
bool parse_shape(const std::string& tuple, std::vector<std::int64_t>* shape) {
  if (tuple.size() < 2 || tuple.front() != '(' || tuple.back() != ')') return false;
  std::stringstream in(tuple.substr(1, tuple.size() - 2));
  std::string item;
  std::int64_t count = 1;
  while (std::getline(in, item, ',')) {
    item.erase(std::remove(item.begin(), item.end(), ' '), item.end());
    if (item.empty()) continue;  // the trailing comma of "(5,)"
    if (item.find_first_not_of("0123456789") != std::string::npos || item.size() > 18)
      return false;
    shape->push_back(std::stoll(item));
    if (__builtin_mul_overflow(count, shape->back(), &count)) return false;
  }
  return true;
}

}  // namespace

std::size_t npy_item_size(const std::string& descr) {
  const std::size_t kind = descr.find_first_of("biufc");
  if (kind == std::string::npos || kind + 1 >= descr.size()) return 0;
  const std::string digits = descr.substr(kind + 1);
  if (digits.size() > 2 || digits.find_first_not_of("0123456789") != std::string::npos) return 0;
  return std::stoul(digits);
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

std::vector<std::uint8_t> npy_preamble(const NpyHeader& h) {
  std::string dict =
      "{'descr': '" + h.descr + "', 'fortran_order': False, 'shape': " + h.shape_str() + ", }";
  // numpy pads the preamble to a multiple of 64 bytes so the data starts aligned.
  const std::size_t total = (kFixedV1 + dict.size() + 1 + 63) / 64 * 64;
  dict.append(total - kFixedV1 - dict.size() - 1, ' ');
  dict.push_back('\n');
  const std::uint8_t fixed[kFixedV1] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                        static_cast<std::uint8_t>(dict.size()),
                                        static_cast<std::uint8_t>(dict.size() >> 8)};
  std::vector<std::uint8_t> out(kFixedV1 + dict.size());
  std::memcpy(out.data(), fixed, kFixedV1);
  std::memcpy(out.data() + kFixedV1, dict.data(), dict.size());
  return out;
}

NpyHeader read_npy_preamble(const NpyRead& read, std::uint64_t total, const NpyComplaint& bad) {
  std::uint8_t fixed[kFixedV1 + 2];
  if (total < kFixedV1) bad("is not a .npy array (too short)");
  read(fixed, kFixedV1);
  if (std::memcmp(fixed, "\x93NUMPY", 6) != 0) bad("is not a .npy array (bad magic)");
  const int version = fixed[6];
  if (version < 1 || version > 3)
    bad("has .npy format version " + std::to_string(version) + " (numpy writes 1, 2 or 3)");
  std::uint64_t len = le(fixed + 8, 2);
  std::uint64_t preamble = kFixedV1 + len;
  if (version >= 2) {  // versions 2 and 3 use a 4-byte header length
    if (total < kFixedV1 + 2) bad("has a malformed .npy header (too short)");
    read(fixed + kFixedV1, 2);
    len = le(fixed + 8, 4);
    preamble = kFixedV1 + 2 + len;
  }
  if (len > kMaxDictBytes || preamble > total) bad("has a malformed .npy header (bad length)");
  std::string dict(static_cast<std::size_t>(len), '\0');
  read(dict.data(), dict.size());

  NpyHeader h;
  h.descr = dict_value(dict, "descr");
  if (h.descr.empty()) bad("has a malformed .npy header (no dtype): " + dict);
  if (!parse_shape(dict_value(dict, "shape"), &h.shape))
    bad("has a malformed .npy header (no valid shape): " + dict);
  if (dict_value(dict, "fortran_order") != "False" && h.shape.size() > 1)
    bad("is stored in Fortran order, which is not supported (save it with C order)");
  const std::uint64_t item = npy_item_size(h.descr);
  std::uint64_t bytes = 0;
  if (item > 0 && (__builtin_mul_overflow(static_cast<std::uint64_t>(h.count()), item, &bytes) ||
                   bytes > kMaxDataBytes))
    bad("has a malformed .npy header (shape " + h.shape_str() + " is too large)");
  if (item > 0 && preamble + bytes != total)
    bad("holds " + std::to_string(total - preamble) + " data bytes but its header (shape " +
        h.shape_str() + ", dtype " + h.descr + ") needs " + std::to_string(bytes));
  return h;
}

void write_npy(const std::string& path, const NpyHeader& header, const void* data) {
  const std::vector<std::uint8_t> preamble = npy_preamble(header);
  const std::size_t bytes = static_cast<std::size_t>(header.count()) * npy_item_size(header.descr);
  const std::string tmp = path + ".partial";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw Error(path + ": cannot open for writing: " + std::strerror(errno));
  bool ok = std::fwrite(preamble.data(), 1, preamble.size(), f) == preamble.size() &&
            (bytes == 0 || std::fwrite(data, 1, bytes, f) == bytes);
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(path + ": write failed: " + std::strerror(errno));
  }
}

}  // namespace vsae::data
