// A small GIF decoder (LZW, global/local palettes, sub-rectangles, transparency, disposal,
// interlacing) so that tests can read the reference frames without Python.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vsae::test {

// Every frame fully composed onto the logical screen, as it would be displayed: RGB, row-major,
// width * height * 3 bytes per frame.
struct GifAnimation {
  int width = 0;
  int height = 0;
  std::vector<std::vector<std::uint8_t>> frames;

  // Frame `i` reduced to one channel (the red one; the reference GIFs of masks are gray).
  std::vector<std::uint8_t> gray(std::size_t i) const;
};

// Throws vsae::Error naming `path` when the file is missing or not a well-formed GIF.
GifAnimation read_gif(const std::string& path);

}  // namespace vsae::test
