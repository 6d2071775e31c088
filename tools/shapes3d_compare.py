#!/usr/bin/env python3
"""Side-by-side comparison of the procedural Shapes3D images with the real reference images.

Renders with the project's ray-caster (tools/shapes3d_dump.cpp compiled together with
apps/vsae/data/shapes3d_render.cpp) and writes one PNG:
  * the 53 frames of shapes3d_frames.gif, whose factors are known, real above generated;
  * the 50 tiles of shapes3d_samples*.png, each next to the generated image of the factors that
    fit it best (hues read off the pixels, then shape, scale and orientation by search).
Prints the mean absolute pixel error (0..255) of each set. Needs numpy and PIL.

  python3 tools/shapes3d_compare.py --reference ../shared/reference --out /tmp/shapes3d_compare.png
"""
import argparse
import colorsys
import itertools
import os
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HUES = [i / 10 for i in range(10)]
SCALES = np.linspace(0.75, 1.25, 8)
ORIENTATIONS = np.linspace(-30, 30, 15)

# Factor classes (floor, wall, object, scale, shape, orientation) of the GIF's 53 frames, as in
# tests/data/test_shapes3d.cpp.
GIF_FRAMES = ([(0, 6, 3, 0, 0, o) for o in range(15)] + [(0, 6, 3, 0, 1, 14), (0, 6, 3, 0, 2, 14)] +
              [(0, 6, 3, s, 3, 14) for s in range(8)] +
              [(0, 6, h, 7, 3, 14) for h in (4, 5, 6, 7, 8, 9, 0, 1, 2)] +
              [(0, w, 2, 7, 3, 14) for w in (7, 8, 9, 0, 1, 5)] +
              [(f, 5, 2, 7, 3, 14) for f in (1, 2, 3)] +
              [(0, w, 2, 7, 3, 14) for w in (2, 3, 4, 5)] +
              [(f, 5, 2, 7, 3, 14) for f in (4, 5, 6, 7, 8, 9)])

# Tile boxes (inclusive pixel ranges) of the matplotlib 5x5 grids in shapes3d_samples*.png.
TILE_X = [(8, 151), (181, 324), (355, 497), (528, 670), (701, 843)]
TILE_Y = [(8, 150), (181, 323), (354, 496), (527, 670), (700, 843)]


class Renderer:
    """Compiles the dump tool once and renders batches of factor-class tuples."""

    def __init__(self, workdir, cxx):
        self.exe = os.path.join(workdir, "shapes3d_dump")
        cmd = [cxx, "-O3", "-std=c++17", "-fopenmp", "-I", REPO,
               os.path.join(REPO, "tools", "shapes3d_dump.cpp"),
               os.path.join(REPO, "apps", "vsae", "data", "shapes3d_render.cpp"), "-o", self.exe]
        subprocess.run(cmd, check=True)

    def render(self, classes):
        lines = "".join(f"{HUES[f]!r} {HUES[w]!r} {HUES[o]!r} {SCALES[s]!r} {sh} {ORIENTATIONS[r]!r}\n"
                        for f, w, o, s, sh, r in classes)
        out = subprocess.run([self.exe], input=lines.encode(), capture_output=True, check=True).stdout
        return np.frombuffer(out, np.uint8).reshape(-1, 3, 64, 64).transpose(0, 2, 3, 1).astype(np.float64)


def gif_frames(path):
    """The GIF shows each 64x64 image upscaled to 223x223 inside a 2 px frame; undo by area average."""
    gif = Image.open(path)
    frames = []
    for i in range(gif.n_frames):
        gif.seek(i)
        frame = gif.convert("RGB").crop((2, 2, 225, 225)).resize((64, 64), Image.BOX)
        frames.append(np.asarray(frame, np.float64))
    return frames


def sample_tiles(path):
    grid = Image.open(path).convert("RGB")
    return [np.asarray(grid.crop((x0, y0, x1 + 1, y1 + 1)).resize((64, 64), Image.BOX), np.float64)
            for (y0, y1), (x0, x1) in itertools.product(TILE_Y, TILE_X)]


def hue_class(rgb):
    return int(round(colorsys.rgb_to_hsv(*(np.clip(rgb, 0, 255) / 255))[0] * 10)) % 10


def estimate_hues(tile):
    """Floor from the bottom-left corner, wall from both image borders, object from the most common
    other saturated hue in the middle of the image."""
    floor = hue_class(np.median(tile[61:64, 2:10].reshape(-1, 3), 0))
    wall = hue_class(np.median(np.concatenate([tile[22:30, 1:5], tile[22:30, 59:63]]).reshape(-1, 3), 0))
    votes = np.zeros(10)
    for y, x in itertools.product(range(14, 60), range(12, 52)):
        h, s, v = colorsys.rgb_to_hsv(*(tile[y, x] / 255))
        if s > 0.6 and v > 0.5 and abs(h * 10 - round(h * 10)) < 0.3:
            votes[int(round(h * 10)) % 10] += 1
    votes[[floor, wall]] = 0
    return floor, wall, int(votes.argmax()) if votes.any() else floor


def best_fit(renderer, tiles, candidates_of):
    """For each tile, the candidate factor tuple whose image is closest (mean squared error)."""
    candidates = [candidates_of(i) for i in range(len(tiles))]
    images = renderer.render([c for cs in candidates for c in cs])
    best, at = [], 0
    for tile, cs in zip(tiles, candidates):
        errors = ((images[at:at + len(cs)] - tile) ** 2).mean(axis=(1, 2, 3))
        best.append(cs[int(errors.argmin())])
        at += len(cs)
    return best


def fit_samples(renderer, tiles):
    hues = [estimate_hues(t) for t in tiles]
    geometry = list(itertools.product(range(8), range(4), range(15)))
    fits = best_fit(renderer, tiles, lambda i: [hues[i] + g for g in geometry])
    # The object's hue may equal the floor's or the wall's: try all ten, then search again.
    fits = best_fit(renderer, tiles, lambda i: [fits[i][:2] + (h,) + fits[i][3:] for h in range(10)])
    fits = best_fit(renderer, tiles, lambda i: [fits[i][:3] + g for g in geometry])
    # Where that still fits badly (an object on a floor of its own hue), search hue and geometry.
    errors = [np.abs(t - f).mean() for t, f in zip(tiles, renderer.render(fits))]
    bad = [i for i, e in enumerate(errors) if e > 5]
    if bad:
        redo = best_fit(renderer, [tiles[i] for i in bad],
                        lambda j: [fits[bad[j]][:2] + (h,) + g for h in range(10) for g in geometry])
        for i, f in zip(bad, redo):
            fits[i] = f
    return fits


def to_image(a, scale):
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8)).resize((64 * scale,) * 2, Image.NEAREST)


def sheet(pairs, columns, title, scale=2):
    """Pairs of (real, generated) images, real left or above; each cell is one pair."""
    cell = 64 * scale
    rows = (len(pairs) + columns - 1) // columns
    out = Image.new("RGB", (columns * (2 * cell + 12), rows * (cell + 6) + 20), "white")
    ImageDraw.Draw(out).text((4, 4), title, fill="black")
    for i, (real, ours) in enumerate(pairs):
        x, y = (i % columns) * (2 * cell + 12), 20 + (i // columns) * (cell + 6)
        out.paste(to_image(real, scale), (x, y))
        out.paste(to_image(ours, scale), (x + cell + 2, y))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reference", default=os.path.join(REPO, "..", "shared", "reference"))
    ap.add_argument("--out", default="/tmp/shapes3d_compare.png")
    ap.add_argument("--cxx", default="g++")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as work:
        renderer = Renderer(work, args.cxx)
        real = gif_frames(os.path.join(args.reference, "shapes3d_frames.gif"))
        ours = renderer.render(GIF_FRAMES)
        errors = [np.abs(r - o).mean() for r, o in zip(real, ours)]
        print(f"GIF frames ({len(real)}, known factors): mean abs error {np.mean(errors):.2f}, "
              f"worst {np.max(errors):.2f}")
        print("  sky (rows 0-4) real", np.round(np.mean([r[:5].mean((0, 1)) for r in real], 0), 1),
              "generated", np.round(np.mean([o[:5].mean((0, 1)) for o in ours], 0), 1))
        sheets = [sheet(list(zip(real, ours)), 6, "shapes3d_frames.gif: real | generated, same factors")]

        for name in ("shapes3d_samples.png", "shapes3d_samples_floorhue0.png"):
            tiles = sample_tiles(os.path.join(args.reference, name))
            fits = fit_samples(renderer, tiles)
            fitted = renderer.render(fits)
            errors = [np.abs(t - f).mean() for t, f in zip(tiles, fitted)]
            print(f"{name} ({len(tiles)}, fitted factors): mean abs error {np.mean(errors):.2f}, "
                  f"worst {np.max(errors):.2f}")
            sheets.append(sheet(list(zip(tiles, fitted)), 5, f"{name}: real | generated, best-fitting factors"))

    width = max(s.width for s in sheets)
    out = Image.new("RGB", (width, sum(s.height for s in sheets)), "white")
    y = 0
    for s in sheets:
        out.paste(s, (0, y))
        y += s.height
    out.save(args.out)
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
