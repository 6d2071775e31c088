"""The disentanglement_lib metric suite beside MIG (DESIGN §10): DCI, SAP, modularity and
explicitness, and the FactorVAE score, computed with numpy and scikit-learn on a run's saved
representations (latents.npy, sae_codes.npy) and their factor classes (factors.npy).

    from vsae_py import evaluate_representation, evaluate_run
    scores = evaluate_representation(codes, factors, seed=0)   # codes (N, D), factors (N, F) ints
    both = evaluate_run("runs/x")                              # {"latents": {...}, "sae_codes": {...}}

Each metric follows its definition in google-research/disentanglement_lib
(evaluation/metrics/dci.py, sap_score.py, modularity_explicitness.py, factor_vae.py and utils.py)
with the settings of that library's study configs (config/unsupervised_study_v1/metric_configs/
dci.gin, sap_score.gin, modularity_explicitness.gin, factor_vae_metric.gin). The library draws
fresh observations from a generator for every metric; here there is one fixed evaluation set, so:

- DCI, SAP and modularity/explicitness share one seeded split of the rows into a training part and
  a test part. The configs ask for 10,000 training and 5,000 test points; with fewer rows than
  15,000 the rows are split in the same 2 : 1 proportion (N = 4,096 gives 2,731 and 1,365).
- The FactorVAE score's fixed-factor batches are drawn from the rows themselves (see factor_vae).

Defaults (DEFAULTS below; each can be overridden by keyword, e.g. num_train=2000):

- num_train / num_test: 10,000 / 5,000, clamped to the rows as above (dci.gin, sap_score.gin,
  modularity_explicitness.gin).
- DCI: GradientBoostingClassifier() with scikit-learn's defaults (100 stages, depth 3, learning
  rate 0.1), one per factor; importance = |feature_importances_| (dci.py, compute_importance_gbt).
- SAP: continuous_factors=False, so LinearSVC(C=0.01, class_weight="balanced") on each single code
  dimension, per factor (sap_score.gin, sap_score.py).
- Modularity: 20 equal-width bins over each dimension's own [min, max] (np.histogram's edges,
  np.digitize) and the discrete mutual information in nats (modularity_explicitness.gin,
  utils.py _histogram_discretize and discrete_mutual_info).
- Explicitness: one-vs-rest logistic regression (liblinear, C = 1) on codes standardised with the
  training part's mean and std; ROC-AUC per class, averaged per factor and then over factors
  (modularity_explicitness.py).
- FactorVAE: batches of 64, 10,000 training votes, 5,000 evaluation votes, 10,000 points for the
  global variances, dimensions pruned when their standard deviation is below 0.05
  (factor_vae_metric.gin, prune_dims.threshold).

Where this differs from the library, and why:

- Dead (constant) dimensions never crash a metric: a constant column is left out of the gradient
  boosting fits and given importance 0, which is what the fit would give it anyway (a tree can
  never split on a constant feature, so its impurity decrease, and so its importance, is exactly
  0; the other columns' trees are unchanged). Standardising a constant column (0 / 0 in the
  library) gives 0 instead of NaN.
- SAP's LinearSVC is solved in the primal (dual=False): the same estimator and the same strictly
  convex objective (squared hinge loss, L2 penalty, weighted C per class) as the library's default
  dual solver, which is 20-30 times slower on a single unscaled code dimension with 32-40 classes.
  On such a dimension the two solvers' weights agreed to 1e-4 and over 99.7 % of predictions.
- Explicitness uses liblinear's one-vs-rest logistic regression: that is what the library's
  `LogisticRegression()` meant when its studies ran (scikit-learn < 0.22); scikit-learn's
  default has since become a multinomial lbfgs model. The AUC is averaged over the classes that
  occur in the evaluated part with both labels (the library's MultiLabelBinarizer would misalign
  columns when a class is missing from one part).
- FactorVAE reports the number of active dimensions (the library reports the mask's length), and
  a score of 0 with `factor_vae_all_pruned` True when every dimension is pruned, as the library.
- Random state: every random choice comes from numpy Generators seeded by `seed`, one stream each
  for the split, DCI and FactorVAE, so a metric's result does not depend on which other metrics run or on the number of
  code dimensions; the gradient boosting fits get a fixed random_state (the library leaves it
  unset, which only changes how ties between equally good splits are broken).
- A factor with a single observed value carries no information and is left out of every metric
  (listed under `factors_dropped`).

Cost. DCI's boosted trees are nearly all of it: one tree per class of a factor and per stage, so
dSprites' 3 + 6 + 40 + 32 + 32 classes make 11,300 trees per code. Measured on 2 cores that other
jobs kept busy (an upper bound), N = 4,096 rows (2,731 fitted): 10 latents, 114 s with n_jobs=2
(108 s CPU for DCI, under 2 s for the rest); a 500-wide top-k SAE code with 170 dead units,
470 s (DCI 411 s, modularity/explicitness 46 s, SAP 11 s, FactorVAE 3 s). The per-factor fits
run in n_jobs worker processes (one per core by default), the largest factors first.
dci_num_train=1000 cuts DCI to about a third (SAE code 144 s CPU, latents 39 s CPU) at the price
of a noisier fit: on the same codes D moved by 0.03-0.04, C by 0.01-0.05, informativeness by
0.04. The other metrics cost the same either way.

Dead units and the scores (what the definitions give, checked by tests/python/test_disentanglement.py):

- DCI disentanglement: unchanged by dead units (their importance 0 gives them weight 0).
- DCI completeness: an entropy over all codes in base D, so padding a code with dead units raises
  it although nothing else changed (1 − C shrinks by log D_live / log D: a rotated 4-factor code
  goes from 0.35 to 0.78 with 60 dead units). `dci_completeness_live` is the same over the live
  codes only (base D_live), comparable between codes with different numbers of dead units.
- Modularity: a dead code scores 0, so the library's mean over all codes falls in proportion to
  the dead fraction; `modularity_live` is the mean over the codes with any information.
- SAP: a dead code's classifier predicts one class, so its accuracy is that class's share; it can
  only raise the second-best accuracy, so SAP can only fall.
- FactorVAE: dead dimensions are pruned, the score is unchanged; all dead gives 0.
- Explicitness: unchanged (a dead column is 0 after standardising and gets no weight).
"""
import json
import os
import sys
import time
import warnings

import numpy as np

# Raised whenever a change alters the scores (report.py keys its cache on it).
VERSION = 1

DEFAULTS = {
    # DCI, SAP and modularity/explicitness: points for fitting and for testing.
    "num_train": 10000,
    "num_test": 5000,
    # Modularity: equal-width histogram bins per code dimension.
    "num_bins": 20,
    # SAP: the LinearSVC's C.
    "sap_c": 0.01,
    # FactorVAE.
    "fvae_batch_size": 64,
    "fvae_num_train": 10000,
    "fvae_num_eval": 5000,
    "fvae_num_variance_estimate": 10000,
    "fvae_prune_threshold": 0.05,
    # DCI only: fit the trees on at most this many rows of the training part (None: all of it, as
    # the library). The trees are the suite's main cost, see evaluate_representation.
    "dci_num_train": None,
    # Extra keyword arguments for GradientBoostingClassifier (the library uses none).
    "gbt_params": None,
    # Which metrics to compute.
    "metrics": ("dci", "sap", "modularity", "factor_vae"),
    # Worker processes for the per-factor fits (DCI, SAP, explicitness); None: one per CPU core.
    "n_jobs": None,
}

METRICS = ("dci", "sap", "modularity", "factor_vae")


# ---- shared helpers -----------------------------------------------------------------------------

def _streams(seed):
    """Independent Generators from `seed`: the rows' split, DCI's tree seeds and FactorVAE's batches
    (SAP's and explicitness's liblinear solvers draw nothing in the primal)."""
    children = np.random.SeedSequence(seed).spawn(3)
    return dict(zip(("split", "dci", "factor_vae"), (np.random.default_rng(c) for c in children)))


def _split(n, num_train, num_test, rng):
    """Row indices (train, test): num_train and num_test disjoint rows when there are that many,
    else the rows split in the proportion num_train : num_test (at least one row each)."""
    if n < 2:
        raise ValueError(f"need at least 2 rows to split into training and test points, got {n}")
    if num_train + num_test > n:
        n_train = int(round(n * num_train / (num_train + num_test)))
        n_train = min(max(n_train, 1), n - 1)
        num_train, num_test = n_train, n - n_train
    perm = rng.permutation(n)
    return perm[:num_train], perm[num_train:num_train + num_test]


def _constant_columns(x):
    return np.all(x == x[:1], axis=0) if x.shape[0] else np.ones(x.shape[1], dtype=bool)


def _normalised_entropy(p, base):
    """Entropy of each row of p (normalised to sum 1) in log base `base`, as scipy.stats.entropy."""
    p = p / p.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    return h / np.log(base)


def _run_tasks(fn, tasks, n_jobs):
    """fn(*task) for each task, in worker processes when n_jobs > 1 (joblib, shipped with sklearn)."""
    if n_jobs is None:
        n_jobs = os.cpu_count() or 1
    n_jobs = max(1, min(int(n_jobs), len(tasks)))
    if n_jobs == 1:
        return [fn(*t) for t in tasks]
    import joblib
    return joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(fn)(*t) for t in tasks)


# ---- DCI (Eastwood & Williams 2018) -------------------------------------------------------------

def _gbt_fit(x_train, y_train, x_test, y_test, random_state, params):
    """One factor's gradient-boosted trees: (importance per live column, train accuracy, test accuracy).
    No live column at all: the fit would predict the training set's most frequent class everywhere."""
    if x_train.shape[1] == 0:
        values, counts = np.unique(y_train, return_counts=True)
        majority = values[np.argmax(counts)]
        return np.zeros(0), float(np.mean(y_train == majority)), float(np.mean(y_test == majority))
    from sklearn.ensemble import GradientBoostingClassifier
    model = GradientBoostingClassifier(random_state=random_state, **(params or {}))
    model.fit(x_train, y_train)
    return (np.abs(model.feature_importances_), float(np.mean(model.predict(x_train) == y_train)),
            float(np.mean(model.predict(x_test) == y_test)))


def importance_matrix_gbt(x_train, y_train, x_test, y_test, rng, n_jobs=None, gbt_params=None):
    """(importance (D, F), train accuracy per factor, test accuracy per factor). Columns constant on
    the training part are left out of the fits and get importance 0 (what the fit would give them)."""
    live = ~_constant_columns(x_train)
    xtr = np.ascontiguousarray(x_train[:, live], dtype=np.float32)
    xte = np.ascontiguousarray(x_test[:, live], dtype=np.float32)
    if xtr.size and np.mean(xtr == 0) > 0.5:
        # Mostly zeros (sparse SAE codes): the trees' sparse splitter sorts only the non-zero values
        # and finds the same splits, so the importances are the same, about 1.3x faster.
        import scipy.sparse
        xtr, xte = scipy.sparse.csc_matrix(xtr), scipy.sparse.csr_matrix(xte)
    seeds = rng.integers(0, 2**31 - 1, size=y_train.shape[1])
    # The factors with the most classes (one tree per class and stage) go first to the workers.
    order = sorted(range(y_train.shape[1]), key=lambda j: -len(np.unique(y_train[:, j])))
    results = _run_tasks(_gbt_fit, [(xtr, y_train[:, j], xte, y_test[:, j], int(seeds[j]), gbt_params) for j in order],
                         n_jobs)
    importance = np.zeros((x_train.shape[1], y_train.shape[1]))
    train_acc = np.zeros(y_train.shape[1])
    test_acc = np.zeros(y_train.shape[1])
    for j, (imp, a_train, a_test) in zip(order, results):
        importance[live, j] = imp
        train_acc[j], test_acc[j] = a_train, a_test
    return importance, train_acc, test_acc


def dci_disentanglement(importance):
    """Sum over codes of (1 − entropy of the code's importance over factors, base F), each code
    weighted by its share of the total importance. A code of importance 0 weighs nothing."""
    d, f = importance.shape
    per_code = np.ones(d) if f < 2 else 1.0 - _normalised_entropy(importance + 1e-11, f)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_code * weights.sum(axis=1) / weights.sum()))


def dci_completeness(importance):
    """Sum over factors of (1 − entropy of the factor's importance over codes, base D = all codes,
    dead ones included), each factor weighted by its share of the total importance."""
    d, f = importance.shape
    per_factor = np.ones(f) if d < 2 else 1.0 - _normalised_entropy(importance.T + 1e-11, d)
    weights = importance if importance.sum() > 0 else np.ones_like(importance)
    return float(np.sum(per_factor * weights.sum(axis=0) / weights.sum()))


def dci(x_train, y_train, x_test, y_test, rng, n_jobs=None, gbt_params=None, num_train=None):
    """DCI as in disentanglement_lib's dci.py: a GradientBoostingClassifier per factor on all code
    dimensions, |feature_importances_| as the importance matrix; informativeness is the mean
    accuracy over factors (test, and train). num_train: fit on only the first num_train rows of
    the training part (a cheaper, noisier estimate; None: all of it)."""
    if num_train is not None and num_train < x_train.shape[0]:
        x_train, y_train = x_train[:num_train], y_train[:num_train]
    importance, train_acc, test_acc = importance_matrix_gbt(x_train, y_train, x_test, y_test, rng, n_jobs, gbt_params)
    live = ~_constant_columns(x_train)
    return {"dci_disentanglement": dci_disentanglement(importance), "dci_completeness": dci_completeness(importance),
            "dci_completeness_live": dci_completeness(importance[live]) if live.any() else 0.0,
            "dci_informativeness_test": float(np.mean(test_acc)),
            "dci_informativeness_train": float(np.mean(train_acc)),
            "dci_importance": importance}


# ---- SAP (Kumar et al. 2018), discrete factors -------------------------------------------------

def _sap_factor(x_train, y_train, x_test, y_test, c):
    """Test accuracy of a LinearSVC fitted on each single code dimension for one factor. The fit on
    a column that is constant on the training part depends only on that constant, so it is shared
    by all such columns of the same value (the dead units)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC
    warnings.simplefilter("ignore", ConvergenceWarning)
    constant = _constant_columns(x_train)
    cache = {}
    acc = np.zeros(x_train.shape[1])
    for i in range(x_train.shape[1]):
        key = float(x_train[0, i]) if constant[i] else None
        clf = cache.get(key) if key is not None else None
        if clf is None:
            clf = LinearSVC(C=c, class_weight="balanced", dual=False).fit(x_train[:, i:i + 1], y_train)
            if key is not None:
                cache[key] = clf
        acc[i] = np.mean(clf.predict(x_test[:, i:i + 1]) == y_test)
    return acc


def sap(x_train, y_train, x_test, y_test, c=0.01, n_jobs=None):
    """SAP as in disentanglement_lib's sap_score.py with continuous_factors=False: the score matrix
    holds the test accuracy of each (code dimension, factor) classifier; the score is the mean over
    factors of the gap between the best and second-best dimension."""
    tasks = [(x_train, y_train[:, j], x_test, y_test[:, j], c) for j in range(y_train.shape[1])]
    matrix = np.stack(_run_tasks(_sap_factor, tasks, n_jobs), axis=1)
    top = np.sort(matrix, axis=0)[::-1]
    second = top[1] if top.shape[0] > 1 else np.zeros(top.shape[1])
    return {"sap": float(np.mean(top[0] - second)), "sap_matrix": matrix}


# ---- modularity and explicitness (Ridgeway & Zemel 2018) ---------------------------------------

def histogram_discretize(x, num_bins=20):
    """Each column into num_bins equal-width bins over its own [min, max], as disentanglement_lib's
    _histogram_discretize: np.histogram's edges without the last, then np.digitize (values 1..bins;
    a constant column lands in a single bin). Widened to float64 first."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros(x.shape, dtype=np.int64)
    for i in range(x.shape[1]):
        out[:, i] = np.digitize(x[:, i], np.histogram_bin_edges(x[:, i], num_bins)[:-1])
    return out


def discrete_mutual_info(codes, factors):
    """Mutual information in nats (D, F) between each discretised code column and each factor, from
    the joint counts: the same value as sklearn.metrics.mutual_info_score(factor, code)."""
    n, d = codes.shape
    codes = codes - codes.min(axis=0) if n else codes
    m = np.zeros((d, factors.shape[1]))
    for j in range(factors.shape[1]):
        _, y = np.unique(factors[:, j], return_inverse=True)
        k = int(y.max()) + 1
        levels = int(codes.max()) + 1 if n else 1
        flat = (codes * k + y[:, None]) + (np.arange(d) * levels * k)[None, :]
        joint = np.bincount(flat.ravel(), minlength=d * levels * k).reshape(d, levels, k) / n
        pc = joint.sum(axis=2, keepdims=True)
        py = joint.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(joint > 0, joint * (np.log(joint) - np.log(pc) - np.log(py)), 0.0)
        m[:, j] = np.maximum(terms.sum(axis=(1, 2)), 0.0)
    # A code in a single bin (a dead unit) carries no information: exactly 0, as sklearn returns,
    # rather than the rounding residue of the sum above.
    m[np.all(codes == codes[:1], axis=0) if n else slice(None)] = 0.0
    return m


def modularity(mi):
    """Per code: 1 − (Σ_j MI² − max_j MI²) / (max_j MI² · (F − 1)); a code with no information
    about any factor (max MI 0, e.g. a dead unit) scores 0, as in the library. Returns the mean over
    all codes and the per-code scores."""
    sq = np.square(mi)
    top = sq.max(axis=1)
    f = sq.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        delta = (sq.sum(axis=1) - top) / (top * (f - 1)) if f > 1 else np.zeros_like(top)
    per_code = np.where(top > 0, 1.0 - delta, 0.0)
    return float(np.mean(per_code)), per_code


def _explicitness_factor(x_train, y_train, x_test, y_test):
    """ROC-AUC (train, test) of a one-vs-rest logistic regression on all codes for one factor,
    averaged over the classes that occur with both labels in the evaluated part."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.multiclass import OneVsRestClassifier
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(x_train, y_train)

    def auc(x, y):
        proba = clf.predict_proba(x)
        scores = []
        for c, cls in enumerate(clf.classes_):
            truth = y == cls
            if truth.any() and not truth.all():
                scores.append(roc_auc_score(truth, proba[:, c]))
        return float(np.mean(scores)) if scores else float("nan")

    return auc(x_train, y_train), auc(x_test, y_test)


def modularity_explicitness(x_train, y_train, x_test, y_test, num_bins=20, n_jobs=None):
    """Modularity from the discrete MI of the training part; explicitness on codes standardised
    with the training part's mean and std (a constant column becomes 0)."""
    mi = discrete_mutual_info(histogram_discretize(x_train, num_bins), y_train)
    mod, per_code = modularity(mi)
    live = mi.max(axis=1) > 0
    # A column constant on the training part standardises to 0 (the library's 0 / 0 would be NaN);
    # an all-zero feature gets weight 0 under the L2 penalty and leaves the other weights as they
    # are, so it is left out of the fits.
    keep = ~_constant_columns(x_train)
    mean = x_train[:, keep].mean(axis=0)
    std = x_train[:, keep].std(axis=0)
    xtr, xte = (x_train[:, keep] - mean) / std, (x_test[:, keep] - mean) / std
    if xtr.shape[1] == 0:
        # No information at all: every class gets its prior probability, an AUC of 0.5.
        res = [(0.5, 0.5)] * y_train.shape[1]
    else:
        res = _run_tasks(_explicitness_factor,
                         [(xtr, y_train[:, j], xte, y_test[:, j]) for j in range(y_train.shape[1])], n_jobs)
    return {"modularity": mod, "modularity_live": float(np.mean(per_code[live])) if live.any() else 0.0,
            "modularity_live_codes": int(live.sum()),
            "explicitness_train": float(np.nanmean([r[0] for r in res])),
            "explicitness_test": float(np.nanmean([r[1] for r in res])), "mutual_info": mi}


# ---- FactorVAE score (Kim & Mnih 2018) ----------------------------------------------------------

def _fvae_votes(codes, factors, groups, global_var, active, batch_size, count, rng, chunk=128):
    """Votes (F, A): for each of `count` batches, a factor k drawn uniformly, a value v of k taken
    from a uniformly drawn row, then batch_size rows drawn with replacement among the rows whose
    factor k equals v; the vote goes to the active dimension of least variance / global variance."""
    n, f = factors.shape
    order, start, size = groups
    x = codes[:, active]
    gv = global_var[active]
    votes = np.zeros((f, x.shape[1]), dtype=np.int64)
    for lo in range(0, count, chunk):
        m = min(chunk, count - lo)
        k = rng.integers(0, f, size=m)
        r = rng.integers(0, n, size=m)
        first = start[k, r]  # where row r's group (rows sharing its value of factor k) begins in order[k]
        pick = first[:, None] + (rng.random((m, batch_size)) * size[k, r][:, None]).astype(np.int64)
        rows = order[k[:, None], pick]
        local = np.var(x[rows], axis=1, ddof=1)
        np.add.at(votes, (k, np.argmin(local / gv, axis=1)), 1)
    return votes


def _value_groups(factors):
    """For each factor k: the rows sorted by their value of k (order[k]), and for each row where its
    group of equal values starts in that order (start[k, row]) and how many rows it holds (size)."""
    n, f = factors.shape
    order = np.zeros((f, n), dtype=np.int64)
    start = np.zeros((f, n), dtype=np.int64)
    size = np.zeros((f, n), dtype=np.int64)
    for k in range(f):
        order[k] = np.argsort(factors[:, k], kind="stable")
        _, first, inverse, counts = np.unique(factors[order[k], k], return_index=True, return_inverse=True,
                                              return_counts=True)
        start[k, order[k]] = first[inverse]
        size[k, order[k]] = counts[inverse]
    return order, start, size


def factor_vae(codes, factors, rng, batch_size=64, num_train=10000, num_eval=5000, num_variance_estimate=10000,
               prune_threshold=0.05):
    """The FactorVAE score as in disentanglement_lib's factor_vae.py, on a fixed set of rows.

    Global variances (ddof 1) come from num_variance_estimate rows (all rows when there are fewer);
    a dimension is active when its standard deviation is at least prune_threshold (the library's
    prune_dims compares sqrt(variance) with the threshold). Each vote is the argmin over active
    dimensions of the within-batch variance (ddof 1) divided by the global variance, for a batch
    in which one factor is fixed. The library generates such a batch from its ground-truth model
    (factor k fixed at a drawn value, the others drawn from their prior); here it is drawn with
    replacement from the evaluation rows whose factor k has the value of a uniformly drawn row.
    A majority-vote classifier maps each dimension to the factor that voted for it most often in
    the training votes; the score is its accuracy on the evaluation votes. When every dimension
    is pruned (all dead), the score is 0 and factor_vae_all_pruned is True."""
    n, d = codes.shape
    var_rows = rng.choice(n, size=num_variance_estimate, replace=False) if n > num_variance_estimate else np.arange(n)
    global_var = np.var(codes[var_rows], axis=0, ddof=1) if var_rows.size > 1 else np.zeros(d)
    active = np.flatnonzero((np.sqrt(global_var) >= prune_threshold) & (global_var > 0))
    if active.size == 0:
        return {"factor_vae": 0.0, "factor_vae_train_accuracy": 0.0, "factor_vae_active_dims": 0,
                "factor_vae_all_pruned": True}
    groups = _value_groups(factors)
    train = _fvae_votes(codes, factors, groups, global_var, active, batch_size, num_train, rng)
    evaluation = _fvae_votes(codes, factors, groups, global_var, active, batch_size, num_eval, rng)
    classifier = np.argmax(train, axis=0)
    columns = np.arange(train.shape[1])
    return {"factor_vae": float(evaluation[classifier, columns].sum() / evaluation.sum()),
            "factor_vae_train_accuracy": float(train[classifier, columns].sum() / train.sum()),
            "factor_vae_active_dims": int(active.size), "factor_vae_all_pruned": False}


# ---- the suite ----------------------------------------------------------------------------------

def evaluate_representation(codes, factors, seed=0, **overrides):
    """Every metric of the suite for codes (N, D) and factor classes (N, F). Returns a flat dict:

    dci_disentanglement, dci_completeness, dci_completeness_live (base: the live codes only),
    dci_informativeness_test, dci_informativeness_train, sap, modularity (mean over all codes; a
    dead code scores 0), modularity_live (mean over the codes with any information),
    modularity_live_codes, explicitness_test, explicitness_train, factor_vae (evaluation
    accuracy), factor_vae_train_accuracy, factor_vae_active_dims, factor_vae_all_pruned, and
    n_rows, n_train, n_test, n_codes, n_constant_codes, factors_used, factors_dropped, seconds
    (per metric). Keyword overrides: see DEFAULTS (unknown names raise TypeError). With
    return_matrices=True the importance, SAP and MI matrices come back too (dci_importance,
    sap_matrix, mutual_info: numpy arrays, codes × factors)."""
    return_matrices = overrides.pop("return_matrices", False)
    unknown = set(overrides) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"evaluate_representation: unknown setting(s) {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    cfg = dict(DEFAULTS, **overrides)
    metrics = tuple(cfg["metrics"])
    if set(metrics) - set(METRICS):
        raise ValueError(f"unknown metric(s) {sorted(set(metrics) - set(METRICS))}; known: {METRICS}")

    codes = np.asarray(codes)
    factors = np.asarray(factors)
    if codes.ndim != 2 or factors.ndim != 2 or codes.shape[0] != factors.shape[0]:
        raise ValueError(f"codes (N, D) and factors (N, F) must share N; got {codes.shape} and {factors.shape}")
    codes = codes.astype(np.float64)
    if not np.all(np.isfinite(codes)):
        raise ValueError("codes hold NaN or infinite values")
    factors = factors.astype(np.int64)
    varies = np.array([np.unique(factors[:, j]).size > 1 for j in range(factors.shape[1])], dtype=bool)
    factors = factors[:, varies]
    if factors.shape[1] == 0:
        raise ValueError("no factor takes more than one value in these rows")

    rng = _streams(seed)
    train, test = _split(codes.shape[0], cfg["num_train"], cfg["num_test"], rng["split"])
    x_train, x_test, y_train, y_test = codes[train], codes[test], factors[train], factors[test]
    out = {"n_rows": int(codes.shape[0]), "n_train": int(train.size), "n_test": int(test.size),
           "n_codes": int(codes.shape[1]), "n_constant_codes": int(_constant_columns(codes).sum()),
           "factors_used": [int(j) for j in np.flatnonzero(varies)],
           "factors_dropped": [int(j) for j in np.flatnonzero(~varies)], "seconds": {}}
    matrices = {}

    def timed(name, fn):
        t0 = time.perf_counter()
        res = fn()
        out["seconds"][name] = round(time.perf_counter() - t0, 3)
        for key in [k for k, v in res.items() if isinstance(v, np.ndarray)]:
            matrices[key] = res.pop(key)
        out.update(res)

    if "dci" in metrics:
        timed("dci", lambda: dci(x_train, y_train, x_test, y_test, rng["dci"], cfg["n_jobs"], cfg["gbt_params"],
                                 cfg["dci_num_train"]))
    if "sap" in metrics:
        timed("sap", lambda: sap(x_train, y_train, x_test, y_test, cfg["sap_c"], cfg["n_jobs"]))
    if "modularity" in metrics:
        timed("modularity", lambda: modularity_explicitness(x_train, y_train, x_test, y_test, cfg["num_bins"],
                                                            cfg["n_jobs"]))
    if "factor_vae" in metrics:
        timed("factor_vae", lambda: factor_vae(codes, factors, rng["factor_vae"], cfg["fvae_batch_size"],
                                               cfg["fvae_num_train"], cfg["fvae_num_eval"],
                                               cfg["fvae_num_variance_estimate"], cfg["fvae_prune_threshold"]))
    if return_matrices:
        out.update(matrices)
    return out


REPRESENTATIONS = ("latents", "sae_codes")


def saved_representations(run_dir):
    """The folders under run_dir (relative paths, "" for run_dir itself, then subfolders in sorted
    order) that hold latents.npy or sae_codes.npy."""
    found = []
    for here, dirs, files in os.walk(run_dir):
        dirs.sort()
        if any(f"{name}.npy" in files for name in REPRESENTATIONS):
            rel = os.path.relpath(here, run_dir)
            found.append("" if rel == "." else rel)
    return found


def representation_files(run_dir, subdir=""):
    """The files the suite reads for one point of a run: ({name: path} of the latents.npy and
    sae_codes.npy in run_dir/subdir, the factors.npy path, else None). The factor classes come from
    factors.npy beside the representations, else from run_dir. FileNotFoundError when a
    representation has no factors.npy."""
    where = os.path.join(run_dir, subdir) if subdir else run_dir
    present = {name: os.path.join(where, f"{name}.npy") for name in REPRESENTATIONS
               if os.path.exists(os.path.join(where, f"{name}.npy"))}
    if not present:
        return {}, None
    factors = next((p for p in (os.path.join(where, "factors.npy"), os.path.join(run_dir, "factors.npy"))
                    if os.path.exists(p)), None)
    if factors is None:
        raise FileNotFoundError(f"{where} has {', '.join(present)} but no factors.npy (here or in {run_dir})")
    return present, factors


def evaluate_run(run_dir, seed=0, subdir="", **overrides):
    """The suite on a run's saved representations: {"latents": {...}, "sae_codes": {...}} for
    whichever of latents.npy and sae_codes.npy exist in run_dir/subdir (subdir: a folder where the
    representations of another point of training were saved; see saved_representations), with the
    factor classes of representation_files. {} when neither file is there."""
    present, factors_path = representation_files(run_dir, subdir)
    if not present:
        return {}
    factors = np.load(factors_path)
    return {name: evaluate_representation(np.load(path), factors, seed, **overrides)
            for name, path in present.items()}


def main(argv=None):
    """Usage: disentanglement.py RUN_DIR [SUBDIR] — prints evaluate_run's scores as JSON."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(main.__doc__)
        return 0 if argv else 2
    result = evaluate_run(argv[0], subdir=argv[1] if len(argv) > 1 else "")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
