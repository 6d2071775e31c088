"""A Shapes3D file on which HDF5 1.10.8 itself crashes (a segfault inside H5F__accum_read, found by
tests/fuzz/fuzz_h5): vsae_gpu stops with one error line naming the file and exit status 1, not a
bare segfault (H5CrashGuard in apps/vsae/data/hdf5_file.hpp)."""
import os

import e2e_common as e2e

here = os.path.dirname(os.path.abspath(__file__))
crashes = os.path.join(here, "..", "fuzz", "library-crashes", "h5")
work = e2e.tempdir()
for name in sorted(os.listdir(crashes)):
    path = os.path.abspath(os.path.join(crashes, name))
    cfg = e2e.tiny_config(os.path.join(work, name), **{"dataset.name": "shapes3d", "dataset.source": path})
    r = e2e.run(["--json", e2e.write_config(work, cfg, name + ".json")])
    errors = [line for line in r.stderr.splitlines() if line.startswith("vsae_gpu: error")]
    e2e.check(r.returncode == 1, f"{name}: exit status {r.returncode}, expected 1:\n{r.stderr}")
    e2e.check(len(errors) == 1 and path in errors[0] and "HDF5 library crashed" in errors[0],
              f"{name}: expected one error line naming the file:\n{r.stderr}")
    print(f"ok  {name}: {errors[0]}")
print("PASSED: every known HDF5 crash ends in one clear error line")
