"""--resume from a checkpoint whose tensor has the right byte size but the wrong shape or dtype (a
checkpoint of another architecture) is refused with the tensor, both shapes and the file named."""
import json
import os
import struct

import e2e_common as e2e

work = e2e.tempdir()
run_dir = os.path.join(work, "run")
config = e2e.write_config(work, e2e.tiny_config(run_dir))
r = e2e.run(["--json", config])
e2e.check(r.returncode == 0, "the run failed: " + r.stderr)
path = os.path.join(run_dir, "checkpoint.safetensors")
original = open(path, "rb").read()
header, size = e2e.safetensors_header(path)
name = "encoder.conv1.weight"
shape = header[name]["shape"]


def rewrite(entry):
    """The checkpoint with one header entry replaced; data offsets are relative, so the data stays."""
    h = dict(header, **{name: dict(header[name], **entry)})
    text = json.dumps(h).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + original[8 + size:])


flat = [1]
for d in shape:
    flat[0] *= d
for entry, expect in (({"shape": flat}, f"{name}"), ({"dtype": "I32"}, f"{name}")):
    rewrite(entry)
    r = e2e.run(["--json", config, "--resume"])
    lines = r.stderr.strip().splitlines()
    e2e.check(r.returncode != 0, f"a checkpoint with {entry} was accepted")
    e2e.check(expect in lines[-1] and path in lines[-1], f"the error names the tensor and the file: {lines[-1]}")
    if "shape" in entry:
        want = "(" + ", ".join(map(str, shape)) + ")"
        got = "(" + ", ".join(map(str, flat)) + ")"
        e2e.check(want in lines[-1] and got in lines[-1], f"the error gives both shapes {want} and {got}: {lines[-1]}")
    else:
        e2e.check("i32" in lines[-1].lower() and "f32" in lines[-1].lower(), f"the error gives both dtypes: {lines[-1]}")
    print("refused:", lines[-1])
print("PASSED: checkpoints with a wrong shape or dtype are refused, naming the tensor, both shapes and the file")
