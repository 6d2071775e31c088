// GIF89a/87a decoding: block parsing, variable-width LZW, and frame composition.
#include "tests/support/gif.hpp"

#include <array>
#include <cstring>
#include <fstream>
#include <iterator>

#include "engine/core/check.hpp"

namespace vsae::test {

namespace {

class Reader {
 public:
  Reader(std::vector<std::uint8_t> bytes, std::string path)
      : bytes_(std::move(bytes)), path_(std::move(path)) {}

  std::uint8_t u8() {
    need(1);
    return bytes_[pos_++];
  }
  int u16() {
    int lo = u8();
    return lo | (u8() << 8);
  }
  void skip(std::size_t n) {
    need(n);
    pos_ += n;
  }
  const std::uint8_t* take(std::size_t n) {
    need(n);
    pos_ += n;
    return bytes_.data() + pos_ - n;
  }
  // A chain of length-prefixed sub-blocks ending in an empty one, concatenated.
  std::vector<std::uint8_t> sub_blocks() {
    std::vector<std::uint8_t> out;
    for (std::uint8_t len = u8(); len != 0; len = u8()) {
      const std::uint8_t* p = take(len);
      out.insert(out.end(), p, p + len);
    }
    return out;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error("GIF " + path_ + ": " + what + " (at byte " + std::to_string(pos_) + ")");
  }

 private:
  void need(std::size_t n) const {
    if (pos_ + n > bytes_.size()) fail("truncated file");
  }
  std::vector<std::uint8_t> bytes_;
  std::string path_;
  std::size_t pos_ = 0;
};

using Palette = std::vector<std::uint8_t>;  // 3 bytes per entry

Palette read_palette(Reader& in, int packed) {
  std::size_t entries = std::size_t{1} << ((packed & 7) + 1);
  const std::uint8_t* p = in.take(entries * 3);
  return Palette(p, p + entries * 3);
}

// Decodes the LZW stream of one image into `count` palette indices.
std::vector<std::uint8_t> lzw_decode(const std::vector<std::uint8_t>& data, int min_code_size,
                                     std::size_t count, Reader& in) {
  if (min_code_size < 2 || min_code_size > 8) in.fail("bad LZW minimum code size");
  constexpr int kMaxCodes = 4096;
  std::array<std::uint16_t, kMaxCodes> prefix{};
  std::array<std::uint8_t, kMaxCodes> suffix{};
  std::array<std::uint8_t, kMaxCodes> first{};
  const int clear = 1 << min_code_size;
  const int end = clear + 1;
  for (int c = 0; c < clear; ++c) suffix[c] = first[c] = static_cast<std::uint8_t>(c);

  std::vector<std::uint8_t> out;
  out.reserve(count);
  std::vector<std::uint8_t> stack;
  int size = min_code_size + 1, next = end + 1, prev = -1;
  std::size_t bit = 0;
  while (out.size() < count && bit + static_cast<std::size_t>(size) <= data.size() * 8) {
    int code = 0;
    for (int b = 0; b < size; ++b, ++bit) code |= ((data[bit >> 3] >> (bit & 7)) & 1) << b;
    if (code == clear) {
      size = min_code_size + 1;
      next = end + 1;
      prev = -1;
      continue;
    }
    if (code == end) break;
    if (prev < 0) {
      if (code >= clear) in.fail("LZW stream starts with an undefined code");
      out.push_back(static_cast<std::uint8_t>(code));
      prev = code;
      continue;
    }
    if (code > next || (code == next && next >= kMaxCodes)) in.fail("corrupt LZW code");
    if (next < kMaxCodes) {
      // The "KwKwK" case (code == next) ends with the first symbol of the previous string.
      prefix[next] = static_cast<std::uint16_t>(prev);
      suffix[next] = code == next ? first[prev] : first[code];
      first[next] = first[prev];
      ++next;
      if (next == (1 << size) && size < 12) ++size;
    }
    stack.clear();
    for (int c = code; c >= clear; c = prefix[c]) stack.push_back(suffix[c]);
    stack.push_back(static_cast<std::uint8_t>(first[code]));
    out.insert(out.end(), stack.rbegin(), stack.rend());
    prev = code;
  }
  if (out.size() < count) in.fail("image data ends early");
  out.resize(count);
  return out;
}

// Row order of an interlaced image: every 8th row from 0, from 4, every 4th from 2, every 2nd
// from 1.
std::vector<int> row_order(int height, bool interlaced) {
  std::vector<int> rows;
  if (!interlaced) {
    for (int y = 0; y < height; ++y) rows.push_back(y);
    return rows;
  }
  const int starts[4] = {0, 4, 2, 1}, steps[4] = {8, 8, 4, 2};
  for (int pass = 0; pass < 4; ++pass)
    for (int y = starts[pass]; y < height; y += steps[pass]) rows.push_back(y);
  return rows;
}

struct Control {
  int disposal = 0;
  int transparent = -1;
};

struct Rect {
  int left, top, width, height;
};

class Composer {
 public:
  Composer(int width, int height, std::array<std::uint8_t, 3> background)
      : width_(width),
        height_(height),
        background_(background),
        canvas_(static_cast<std::size_t>(width) * height * 3) {
    fill({0, 0, width, height});
  }

  // Draws one frame's indices and returns the composed picture; then applies its disposal.
  std::vector<std::uint8_t> draw(const Rect& r, const std::vector<std::uint8_t>& indices,
                                 const std::vector<int>& rows, const Palette& palette,
                                 const Control& control) {
    std::vector<std::uint8_t> saved = canvas_;
    for (int i = 0; i < r.height; ++i) {
      int y = r.top + rows[static_cast<std::size_t>(i)];
      for (int x = 0; x < r.width; ++x) {
        int index = indices[static_cast<std::size_t>(i) * r.width + x];
        if (index == control.transparent || y >= height_ || r.left + x >= width_) continue;
        std::size_t at = (static_cast<std::size_t>(y) * width_ + r.left + x) * 3;
        std::size_t from = static_cast<std::size_t>(index) * 3;
        for (int c = 0; c < 3; ++c)
          canvas_[at + c] = from + 2 < palette.size() ? palette[from + c] : 0;
      }
    }
    std::vector<std::uint8_t> shown = canvas_;
    if (control.disposal == 2) fill(r);
    if (control.disposal == 3) canvas_ = std::move(saved);
    return shown;
  }

 private:
  void fill(const Rect& r) {
    for (int y = r.top; y < std::min(r.top + r.height, height_); ++y)
      for (int x = r.left; x < std::min(r.left + r.width, width_); ++x)
        std::memcpy(&canvas_[(static_cast<std::size_t>(y) * width_ + x) * 3], background_.data(),
                    3);
  }

  int width_, height_;
  std::array<std::uint8_t, 3> background_;
  std::vector<std::uint8_t> canvas_;
};

Control read_extension(Reader& in) {
  Control control;
  std::uint8_t label = in.u8();
  std::vector<std::uint8_t> body = in.sub_blocks();
  if (label == 0xF9 && body.size() >= 4) {
    control.disposal = (body[0] >> 2) & 7;
    if (body[0] & 1) control.transparent = body[3];
  }
  return control;
}

}  // namespace

std::vector<std::uint8_t> GifAnimation::gray(std::size_t i) const {
  const std::vector<std::uint8_t>& rgb = frames.at(i);
  std::vector<std::uint8_t> out(rgb.size() / 3);
  for (std::size_t p = 0; p < out.size(); ++p) out[p] = rgb[p * 3];
  return out;
}

GifAnimation read_gif(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw Error("GIF " + path + ": cannot open the file");
  Reader in(std::vector<std::uint8_t>(std::istreambuf_iterator<char>(file), {}), path);

  const std::uint8_t* magic = in.take(6);
  if (std::memcmp(magic, "GIF87a", 6) != 0 && std::memcmp(magic, "GIF89a", 6) != 0)
    in.fail("not a GIF file");
  GifAnimation gif;
  gif.width = in.u16();
  gif.height = in.u16();
  int packed = in.u8();
  int background_index = in.u8();
  in.skip(1);  // pixel aspect ratio
  Palette global = (packed & 0x80) ? read_palette(in, packed) : Palette{};
  std::array<std::uint8_t, 3> background{};
  if (static_cast<std::size_t>(background_index) * 3 + 2 < global.size())
    for (int c = 0; c < 3; ++c)
      background[c] = global[static_cast<std::size_t>(background_index) * 3 + c];

  Composer composer(gif.width, gif.height, background);
  Control control;
  for (std::uint8_t block = in.u8(); block != 0x3B; block = in.u8()) {
    if (block == 0x21) {
      control = read_extension(in);
    } else if (block == 0x2C) {
      Rect r{in.u16(), in.u16(), in.u16(), in.u16()};
      int image_packed = in.u8();
      Palette local = (image_packed & 0x80) ? read_palette(in, image_packed) : Palette{};
      int min_code_size = in.u8();
      std::vector<std::uint8_t> data = in.sub_blocks();
      std::size_t count = static_cast<std::size_t>(r.width) * r.height;
      std::vector<std::uint8_t> indices = lzw_decode(data, min_code_size, count, in);
      gif.frames.push_back(composer.draw(r, indices, row_order(r.height, image_packed & 0x40),
                                         local.empty() ? global : local, control));
      control = Control{};
    } else {
      in.fail("unknown block type " + std::to_string(block));
    }
  }
  return gif;
}

}  // namespace vsae::test
