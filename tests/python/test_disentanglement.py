"""tools/vsae_py/disentanglement.py on constructed codes: the scores that the disentanglement_lib
definitions predict for a disentangled code, for mixed codes, for the disentangled code padded
with dead (all-zero) units, and for a code that is all dead; plus the building blocks against
scipy and scikit-learn. Run: /usr/bin/python3 tests/python/test_disentanglement.py (exit 0: passed)."""
import math
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from vsae_py import evaluate_representation, evaluate_run, saved_representations  # noqa: E402
from vsae_py import disentanglement as dis  # noqa: E402

SCORES = ("dci_disentanglement", "dci_completeness", "dci_informativeness_test", "dci_informativeness_train", "sap",
          "modularity", "modularity_live", "explicitness_test", "explicitness_train", "factor_vae",
          "factor_vae_train_accuracy")


def check(condition, message):
    if not condition:
        print("FAILED: " + message)
        sys.exit(1)


def close(a, b, tol, message):
    check(abs(a - b) <= tol, f"{message}: {a!r} vs {b!r} (tolerance {tol})")


def no_nan(result, label):
    for key in SCORES:
        check(math.isfinite(result[key]), f"{label}: {key} is {result[key]}")


def show(label, r):
    print(f"{label:>22}: " + " ".join(f"{k.replace('dci_', '').replace('informativeness', 'info')}={r[k]:.3f}"
                                      for k in SCORES) + f"  [{r['seconds']}]")


# ---- building blocks against their references ---------------------------------------------------

def test_building_blocks(rng):
    import scipy.stats
    import sklearn.metrics

    p = rng.random((6, 4))
    p[2] = 0.0
    check(np.allclose(dis._normalised_entropy(p + 1e-11, 4), scipy.stats.entropy(p.T + 1e-11, base=4)),
          "entropy differs from scipy.stats.entropy")
    check(dis.dci_disentanglement(np.eye(3)) > 1 - 1e-9 and dis.dci_completeness(np.eye(3)) > 1 - 1e-9,
          "an identity importance matrix is not perfectly disentangled and complete")
    close(dis.dci_disentanglement(np.ones((3, 3))), 0.0, 1e-9, "uniform importance: disentanglement")
    close(dis.dci_completeness(np.zeros((3, 3))), 0.0, 1e-9, "all-zero importance (library fallback): completeness")
    # Modularity by hand: code 0 about factor 0 only (1); code 1 equally about both (0); code 2 about nothing (0).
    close(dis.modularity(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]))[0], 1 / 3, 1e-12, "modularity by hand")

    x = np.concatenate([rng.normal(size=(500, 3)), np.zeros((500, 1)), np.full((500, 1), 2.5)], axis=1)
    y = np.stack([rng.integers(0, 4, 500), (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)], axis=1)
    disc = dis.histogram_discretize(x, 20)
    for i in range(x.shape[1]):
        ref = np.digitize(x[:, i], np.histogram(x[:, i], 20)[1][:-1])
        check(np.array_equal(disc[:, i], ref), f"column {i}: histogram_discretize differs from np.histogram + digitize")
    mi = dis.discrete_mutual_info(disc, y)
    for i in range(x.shape[1]):
        for j in range(y.shape[1]):
            close(mi[i, j], sklearn.metrics.mutual_info_score(y[:, j], disc[:, i]), 1e-12,
                  f"MI of column {i} and factor {j} against sklearn.metrics.mutual_info_score")
    check(mi[3].max() == 0.0 and mi[4].max() == 0.0, f"constant columns have MI {mi[3:]} instead of exactly 0")
    print("building blocks: entropy, D/C, modularity, discretisation and MI match their references")


# ---- constructed codes --------------------------------------------------------------------------

def main():
    start = time.time()
    rng = np.random.default_rng(1)
    test_building_blocks(rng)

    # Four factors with few classes (a LinearSVC on a single dimension, as SAP uses, can only carve
    # a few classes out of a line), 1,200 rows: 800 to fit, 400 to test.
    n, classes = 1200, (2, 3, 3, 4)
    factors = np.stack([rng.integers(0, k, n) for k in classes], axis=1)
    z = (factors - factors.mean(axis=0)) / factors.std(axis=0)
    disentangled = z + 0.05 * rng.normal(size=z.shape)
    hadamard = np.array([[1, 1, 1, 1], [1, -1, 1, -1], [1, 1, -1, -1], [1, -1, -1, 1]]) / 2.0
    rotation, _ = np.linalg.qr(np.random.default_rng(7).normal(size=(4, 4)))
    dead = 60
    padded = np.concatenate([disentangled, np.zeros((n, dead))], axis=1)

    r1 = evaluate_representation(disentangled, factors, seed=0, n_jobs=1, return_matrices=True)
    show("1 disentangled", r1)
    no_nan(r1, "disentangled")
    check(r1["n_train"] == 800 and r1["n_test"] == 400, f"1,200 rows split {r1['n_train']}/{r1['n_test']}, not 800/400")
    # Each code is one factor: all importance of a factor sits on one code and each code serves one factor.
    check(r1["dci_disentanglement"] > 0.95 and r1["dci_completeness"] > 0.95,
          f"disentangled code: D={r1['dci_disentanglement']}, C={r1['dci_completeness']}, expected > 0.95")
    check(r1["dci_informativeness_test"] > 0.98, f"disentangled code: informativeness {r1['dci_informativeness_test']}")
    # The other codes carry no information about a factor, so its MI sits on one code: modularity ~1.
    check(r1["modularity"] > 0.95, f"disentangled code: modularity {r1['modularity']}")
    check(r1["explicitness_test"] > 0.95, f"disentangled code: explicitness {r1['explicitness_test']}")
    # Fixing factor k leaves only the noise (variance 0.0025) in code k: every vote is right.
    check(r1["factor_vae"] > 0.99 and r1["factor_vae_active_dims"] == 4,
          f"disentangled code: FactorVAE {r1['factor_vae']}, active dims {r1['factor_vae_active_dims']}")
    # SAP: the own code classifies its factor well, every other code is at chance.
    check(r1["sap"] > 0.4, f"disentangled code: SAP {r1['sap']}, expected > 0.4")

    # A maximally mixed orthogonal code: every code is ±1/2 of every (standardised) factor.
    r2 = evaluate_representation(disentangled @ hadamard, factors, seed=0, n_jobs=1)
    show("2a Hadamard mix", r2)
    no_nan(r2, "Hadamard mix")
    check(r2["dci_disentanglement"] < 0.3 and r2["dci_completeness"] < 0.3,
          f"Hadamard mix: D={r2['dci_disentanglement']}, C={r2['dci_completeness']}, expected < 0.3")
    check(r2["dci_informativeness_test"] > 0.9, "Hadamard mix: the information is still there (informativeness)")
    check(r2["modularity"] < r1["modularity"] - 0.15, f"Hadamard mix: modularity {r2['modularity']} not below case 1")
    check(r2["sap"] < 0.15, f"Hadamard mix: SAP {r2['sap']}, expected < 0.15 (no single code predicts a factor)")
    # Fixing any factor lowers every code's variance by the same amount: the argmin is noise, chance level.
    check(r2["factor_vae"] < 0.6, f"Hadamard mix: FactorVAE {r2['factor_vae']}, expected near chance (< 0.6)")

    # A random orthogonal mix (seeded): lower than case 1 on every score that rewards one code per
    # factor. FactorVAE only needs each factor's most aligned code to differ, so it may stay high.
    r2b = evaluate_representation(disentangled @ rotation, factors, seed=0, n_jobs=1)
    show("2b random rotation", r2b)
    no_nan(r2b, "random rotation")
    for key, margin in (("dci_disentanglement", 0.3), ("dci_completeness", 0.3), ("modularity", 0.1), ("sap", 0.2)):
        check(r2b[key] < r1[key] - margin, f"random rotation: {key} {r2b[key]} not below case 1's {r1[key]} - {margin}")
    check(r2b["factor_vae"] <= r1["factor_vae"], f"random rotation: FactorVAE {r2b['factor_vae']} above case 1")

    # The disentangled code plus dead units.
    r3 = evaluate_representation(padded, factors, seed=0, n_jobs=1, return_matrices=True)
    show(f"3 + {dead} dead units", r3)
    no_nan(r3, "padded")
    check(r3["n_constant_codes"] == dead, f"padded: {r3['n_constant_codes']} constant codes, expected {dead}")
    # Dead codes get importance 0, so they weigh nothing in D; the live fits are the same.
    check(np.array_equal(r3["dci_importance"][:4], r1["dci_importance"]) and not r3["dci_importance"][4:].any(),
          "padded: the importance matrix is not case 1's with zero rows below")
    close(r3["dci_disentanglement"], r1["dci_disentanglement"], 1e-9, "padded: DCI disentanglement changed")
    close(r3["dci_informativeness_test"], r1["dci_informativeness_test"], 0, "padded: informativeness changed")
    # Completeness is an entropy over all codes in base D: the same distribution over 64 codes instead
    # of 4 gives 1 - C scaled by log 4 / log 64 (the dead codes' 1e-11 terms are negligible).
    close(1 - r3["dci_completeness"], (1 - r1["dci_completeness"]) * math.log(4) / math.log(4 + dead), 1e-6,
          "padded: completeness is not the base-change of case 1's")
    close(r3["dci_completeness"], r1["dci_completeness"], 0.05, "padded: completeness moved by more than 0.05")
    # FactorVAE prunes the dead dimensions and draws the same batches.
    close(r3["factor_vae"], r1["factor_vae"], 0, "padded: FactorVAE changed")
    check(r3["factor_vae_active_dims"] == 4 and not r3["factor_vae_all_pruned"], "padded: dead dimensions not pruned")
    # Modularity gives each dead code 0 (the library's rule for a code without information), so the
    # mean over all codes is case 1's times 4/64; modularity_live (live codes only) is case 1's.
    close(r3["modularity"], r1["modularity"] * 4 / (4 + dead), 1e-12, "padded: modularity is not case 1's × 4/64")
    close(r3["modularity_live"], r1["modularity"], 1e-12, "padded: modularity over the live codes changed")
    check(r3["modularity_live_codes"] == 4, f"padded: {r3['modularity_live_codes']} live codes for modularity")
    close(r3["explicitness_test"], r1["explicitness_test"], 1e-9, "padded: explicitness changed")
    # SAP: the live codes' accuracies are the same; a dead code's classifier predicts one class everywhere,
    # so its accuracy is that class's share of the test rows. Added codes can only raise the second best.
    check(np.array_equal(r3["sap_matrix"][:4], r1["sap_matrix"]), "padded: SAP accuracies of the live codes changed")
    test_part = factors[dis._split(n, 10000, 5000, dis._streams(0)["split"])[1]]
    for j in range(len(classes)):
        shares = np.bincount(test_part[:, j]) / len(test_part)
        check(np.all(np.isclose(r3["sap_matrix"][4:, j][:, None], shares[None, :]).any(axis=1)),
              f"padded: a dead code's SAP accuracy for factor {j} is not a class share")
    check(r3["sap"] <= r1["sap"] + 1e-12, f"padded: SAP {r3['sap']} rose above case 1's {r1['sap']}")

    # The same on the rotated code, whose importance is spread: D is unchanged, but completeness, an
    # entropy in base D (the number of codes), rises with every dead code although nothing else changed.
    r3b = evaluate_representation(np.concatenate([disentangled @ rotation, np.zeros((n, dead))], axis=1), factors,
                                  seed=0, n_jobs=1)
    show(f"3b rotation + {dead} dead", r3b)
    no_nan(r3b, "padded rotation")
    close(r3b["dci_disentanglement"], r2b["dci_disentanglement"], 1e-9, "padded rotation: DCI disentanglement changed")
    close(1 - r3b["dci_completeness"], (1 - r2b["dci_completeness"]) * math.log(4) / math.log(4 + dead), 1e-6,
          "padded rotation: completeness is not the base-change of the rotation's")
    check(r3b["dci_completeness"] > r2b["dci_completeness"] + 0.3, "padded rotation: completeness should rise a lot")
    close(r3b["dci_completeness_live"], r2b["dci_completeness"], 1e-9, "padded rotation: completeness over live codes")
    close(r3b["factor_vae"], r2b["factor_vae"], 0, "padded rotation: FactorVAE changed")

    # Nothing but dead units: no fit is possible, every score takes its defined value for no information.
    r4 = evaluate_representation(np.zeros((n, 8)), factors, seed=0, n_jobs=1)
    show("4 all dead", r4)
    no_nan(r4, "all dead")
    check(r4["factor_vae"] == 0.0 and r4["factor_vae_all_pruned"] and r4["factor_vae_active_dims"] == 0,
          "all dead: FactorVAE should be 0 with factor_vae_all_pruned")
    for key in ("dci_disentanglement", "dci_completeness", "modularity", "sap"):
        close(r4[key], 0.0, 1e-12, f"all dead: {key}")
    check(r4["explicitness_test"] == 0.5, "all dead: explicitness should be 0.5 (chance AUC)")
    # Boosted trees without a usable feature predict the training part's most frequent class.
    train_rows, test_rows = dis._split(n, 10000, 5000, dis._streams(0)["split"])
    majority = np.mean([np.mean(factors[test_rows, j] == np.argmax(np.bincount(factors[train_rows, j])))
                        for j in range(len(classes))])
    close(r4["dci_informativeness_test"], majority, 1e-12, "all dead: informativeness is not the majority class's")

    # Determinism and the parallel path: the same seed gives the same scores with worker processes.
    cheap = {"gbt_params": {"n_estimators": 10}, "fvae_num_train": 500, "fvae_num_eval": 300}
    a = evaluate_representation(disentangled @ rotation, factors, seed=3, n_jobs=1, **cheap)
    b = evaluate_representation(disentangled @ rotation, factors, seed=3, n_jobs=2, **cheap)
    for key in SCORES:
        check(a[key] == b[key], f"{key} differs between n_jobs=1 ({a[key]}) and n_jobs=2 ({b[key]})")
    c = evaluate_representation(disentangled @ rotation, factors, seed=4, n_jobs=1, **cheap)
    check(c["factor_vae"] != a["factor_vae"] or c["dci_completeness"] != a["dci_completeness"],
          "another seed gives exactly the same scores: the seed is not used")

    # A factor with a single value is dropped; a wrong setting name is refused.
    one = evaluate_representation(disentangled, np.concatenate([factors, np.zeros((n, 1), int)], axis=1), seed=0,
                                  n_jobs=1, metrics=("modularity", "factor_vae"))
    check(one["factors_dropped"] == [4] and one["factors_used"] == [0, 1, 2, 3], "a constant factor was not dropped")
    try:
        evaluate_representation(disentangled, factors, num_bin=20)
        check(False, "a misspelt setting (num_bin) was accepted")
    except TypeError:
        pass

    # evaluate_run on a run directory and on a subfolder of saved representations.
    with tempfile.TemporaryDirectory(prefix="vsae_dis_") as run:
        check(evaluate_run(run) == {}, "a run without saved representations should give {}")
        np.save(os.path.join(run, "latents.npy"), disentangled.astype(np.float32))
        np.save(os.path.join(run, "sae_codes.npy"), padded.astype(np.float32))
        np.save(os.path.join(run, "factors.npy"), factors.astype(np.int32))
        os.makedirs(os.path.join(run, "epoch_3"))
        np.save(os.path.join(run, "epoch_3", "latents.npy"), (disentangled @ hadamard).astype(np.float32))
        check(saved_representations(run) == ["", "epoch_3"], f"saved_representations: {saved_representations(run)}")
        quick = {"metrics": ("modularity", "factor_vae"), "n_jobs": 1}
        both = evaluate_run(run, **quick)
        check(sorted(both) == ["latents", "sae_codes"], f"evaluate_run found {sorted(both)}")
        close(both["latents"]["factor_vae"], r1["factor_vae"], 0, "evaluate_run: latents FactorVAE")
        close(both["sae_codes"]["modularity"], r3["modularity"], 1e-6, "evaluate_run: SAE-code modularity")
        later = evaluate_run(run, subdir="epoch_3", **quick)
        check(list(later) == ["latents"], "evaluate_run(subdir) should find only latents.npy there")
        close(later["latents"]["modularity"], r2["modularity"], 1e-6, "evaluate_run(subdir) uses the subfolder's codes")

    elapsed = time.time() - start
    print(f"PASSED: DCI, SAP, modularity/explicitness and FactorVAE give the predicted scores on disentangled, "
          f"mixed, dead-padded and all-dead codes ({elapsed:.1f} s)")


if __name__ == "__main__":
    main()
