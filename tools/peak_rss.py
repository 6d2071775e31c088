#!/usr/bin/env python3
"""Runs a command and prints its peak resident memory in MiB (the kernel's ru_maxrss of the child,
which counts the largest of its processes), so that vsae_gpu and PyTorch are measured the same way.

Usage: tools/peak_rss.py CMD [ARGS...]. The command's stdout goes to stderr; the exit code is the
command's (the figure is printed only when it succeeded).
"""
import resource
import subprocess
import sys


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    try:
        code = subprocess.run(argv, stdout=sys.stderr).returncode
    except OSError as e:
        print(f"peak_rss.py: cannot run {argv[0]}: {e.strerror}", file=sys.stderr)
        return 127
    if code == 0:
        print(f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.1f}")  # KiB on Linux
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
