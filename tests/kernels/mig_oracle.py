"""MIG oracle for tests/kernels/test_mig.cpp: disentanglement_lib's discrete MIG with numpy and
scikit-learn, run on files the C++ test writes.

Usage: mig_oracle.py DIR. DIR holds meta.txt ("N L F bins"), codes.f32 (N x L float32, row-major,
little-endian) and factors.i32 (N x F int32). Writes DIR/result.txt: the MIG, then the F factor
entropies, the F gaps, and L lines of F mutual informations, all in nats with full precision.

It follows disentanglement_lib (evaluation/metrics/mig.py and utils.py): np.histogram edges over
each latent's own range, np.digitize with the last edge dropped, sklearn's mutual_info_score, the
entropy as mutual_info_score(y, y), and the sorted gap over the entropy. The codes are widened to
float64 first, so the bin edges are computed in double as the C++ engine documents.
"""
import os
import sys

import numpy as np
import sklearn.metrics


def histogram_discretize(target, num_bins):
    discretized = np.zeros_like(target, dtype=np.int64)
    for i in range(target.shape[0]):
        discretized[i, :] = np.digitize(target[i, :], np.histogram(target[i, :], num_bins)[1][:-1])
    return discretized


def discrete_mutual_info(mus, ys):
    m = np.zeros([mus.shape[0], ys.shape[0]])
    for i in range(mus.shape[0]):
        for j in range(ys.shape[0]):
            m[i, j] = sklearn.metrics.mutual_info_score(ys[j, :], mus[i, :])
    return m


def discrete_entropy(ys):
    h = np.zeros(ys.shape[0])
    for j in range(ys.shape[0]):
        h[j] = sklearn.metrics.mutual_info_score(ys[j, :], ys[j, :])
    return h


def main(directory):
    with open(os.path.join(directory, "meta.txt")) as f:
        n, latents, factors, bins = (int(v) for v in f.read().split())
    codes = np.fromfile(os.path.join(directory, "codes.f32"), dtype="<f4").reshape(n, latents)
    ys = np.fromfile(os.path.join(directory, "factors.i32"), dtype="<i4").reshape(n, factors)
    mus = histogram_discretize(codes.astype(np.float64).T, bins)
    m = discrete_mutual_info(mus, ys.T)
    entropy = discrete_entropy(ys.T)
    sorted_m = np.sort(m, axis=0)[::-1]
    gap = np.divide(sorted_m[0, :] - sorted_m[1, :], entropy)
    mig = np.mean(gap)
    with open(os.path.join(directory, "result.txt"), "w") as f:
        f.write(repr(float(mig)) + "\n")
        f.write(" ".join(repr(float(v)) for v in entropy) + "\n")
        f.write(" ".join(repr(float(v)) for v in gap) + "\n")
        for row in m:
            f.write(" ".join(repr(float(v)) for v in row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
