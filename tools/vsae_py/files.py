"""Readers for the files vsae_gpu writes and exports, with numpy only (no torch, no pandas), so
that every tool can use them."""
import json
import struct

import numpy as np

# The folder under a run directory where output.save_latents also writes the representations at the
# schedule's end (k = end) when extra epochs follow it (apps/vsae/train/trainer.cpp, kScheduleEndDir).
SCHEDULE_END_DIR = "schedule_end"

# safetensors dtypes that vsae_gpu writes
DTYPES = {"F32": np.float32, "I32": np.int32, "U8": np.uint8}


def load_json(path):
    with open(path) as f:
        return json.load(f)


def load_metrics(path):
    """The epoch lines of metrics.jsonl; a torn last line (a run killed mid-write) is skipped."""
    lines = []
    with open(path) as f:
        for line in f:
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return lines


def read_safetensors(path):
    """Returns ({name: np.ndarray}, metadata) without the safetensors package (not in Debian)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        arr = np.frombuffer(data[base + begin:base + end], dtype=DTYPES[e["dtype"]])
        tensors[name] = arr.reshape(e["shape"]).copy()
    return tensors, meta


def load_images(path):
    """The images of a dataset file (`vsae_gpu export-dataset`, or the official dSprites .npz /
    Shapes3D .h5) as float32 (N, C, 64, 64) in [0, 1], scaled as vsae_gpu scales them (byte × the
    float32 pixel scale: 1 for dSprites' 0/1 pixels, 1/255 for Shapes3D), so the model sees the
    same input bits as in training."""
    if path.endswith(".npz"):
        with np.load(path) as f:
            return f["imgs"][:, None].astype(np.float32)
    import h5py
    with h5py.File(path, "r") as f:
        images = f["images"][()]
    return images.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(1.0 / 255.0)
