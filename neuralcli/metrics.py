"""Evaluation metrics for classifiers and regressors, in plain numpy.

Every figure agrees with scikit-learn's function of the same name (to rounding) where that
function is defined; the few places where scikit-learn raises or returns NaN and this module
returns a value or None are stated in the docstrings. Results are Python floats, ints, lists,
dicts and None, so a report goes to JSON as it is.

Conventions:

- Class labels are int indices 0..K-1 and K is always passed as `n_classes`, because an
  evaluation set may lack some classes. Per-class lists are indexed by class.
- `proba` is (N, K): one row of class probabilities per sample.
- Regression targets and predictions are (N,) or (N, K); with several outputs a score is the
  plain mean of the per-output scores (scikit-learn's multioutput="uniform_average").
- `sample_weight` is None or N non-negative finite weights with a positive sum.
"""
import numpy as np

__all__ = [
    "accuracy", "count_correct", "log_loss", "precision_recall_f1", "confusion_matrix",
    "roc_auc", "classification_report", "class_prior", "baseline_classification",
    "mse", "rmse", "mae", "r2", "regression_report", "baseline_regression",
    "roc_curve", "precision_recall_curve", "average_precision", "calibration_curve",
]

# scikit-learn (>= 1.3) clips probabilities to the float64 machine epsilon.
LOG_LOSS_EPS = float(np.finfo(np.float64).eps)


# ---------------------------------------------------------------------------- validation

def _labels(y, n_classes, name="y_true"):
    """y as a 1-D int64 array of class indices in [0, n_classes)."""
    n_classes = int(n_classes)
    if n_classes < 1:
        raise ValueError(f"n_classes must be at least 1, got {n_classes}")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D class indices, got shape {y.shape}")
    if y.size == 0:
        raise ValueError(f"{name} is empty")
    if y.dtype.kind not in "iub":
        if y.dtype.kind != "f" or not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class indices")
    y = y.astype(np.int64)
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= n_classes:
        raise ValueError(f"{name} holds class {lo if lo < 0 else hi}, outside 0..{n_classes - 1}")
    return y


def _weights(sample_weight, n):
    """sample_weight as a float64 (n,) array, or None."""
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to zero")
    return w


def _proba(proba, n, n_classes):
    """proba as a finite float64 (n, n_classes) array."""
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape != (n, n_classes):
        raise ValueError(f"proba must have shape ({n}, {n_classes}), got {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("proba holds NaN or infinite values")
    return p


def _targets(y_true, y_pred):
    """y_true and y_pred as float64 (N, K) arrays of one shape; (N,) reads as (N, 1)."""
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    if yt.ndim == 1:
        yt = yt[:, None]
    if yp.ndim == 1:
        yp = yp[:, None]
    if yt.ndim != 2 or yt.shape != yp.shape:
        raise ValueError(f"y_true {np.shape(y_true)} and y_pred {np.shape(y_pred)} "
                         "must both be (N,) or (N, K) of one shape")
    if yt.shape[0] == 0:
        raise ValueError("y_true is empty")
    if not (np.all(np.isfinite(yt)) and np.all(np.isfinite(yp))):
        raise ValueError("y_true or y_pred holds NaN or infinite values")
    return yt, yp


def _average(values, w):
    """Mean over axis 0, weighted when w is given."""
    return np.average(values, axis=0, weights=w)


def _counts(values, w):
    """A JSON-friendly list: ints for plain counts, floats for weighted ones."""
    return values.astype(np.int64).tolist() if w is None else values.astype(np.float64).tolist()


# ---------------------------------------------------------------------------- classification

def accuracy(y_true, y_pred, sample_weight=None):
    """Fraction (weighted when weights are given) of samples with y_pred == y_true."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} differ in length")
    if y_true.size == 0:
        raise ValueError("y_true is empty")
    w = _weights(sample_weight, y_true.size)
    return float(_average((y_true == y_pred).astype(np.float64), w))


def count_correct(target, out, task, loss):
    """How many rows of raw network outputs `out` (N, n_out) predict their target's class,
    with `target` in the form the loss kernel reads (neuralcli.head.encode_targets): the
    count training reports its accuracy by. "multiclass": the argmax of each output row
    against class indices (N,), or against the argmax of one-hot rows (N, K) when mse
    trains a softmax output. "binary": out[:, 0] is a logit for loss "bce" (class 1 above
    0) and a sigmoid's probability for another loss (class 1 above 0.5), against targets
    (N, 1) of 0.0 and 1.0. `loss` is a name of neuralcli.losses.LOSSES. An int."""
    if task == "multiclass":
        labels = target if target.ndim == 1 else target.argmax(axis=1)
        return int(np.count_nonzero(out.argmax(axis=1) == labels))
    if task != "binary":
        raise ValueError(f"task must be 'binary' or 'multiclass', got {task!r}")
    threshold = 0.0 if loss == "bce" else 0.5
    return int(np.count_nonzero((out[:, 0] > threshold) == (target[:, 0] > 0.5)))


def log_loss(y_true, proba, n_classes, sample_weight=None, eps=LOG_LOSS_EPS):
    """Mean negative log-probability of the true class (natural log).

    Probabilities are clipped to [eps, 1 - eps] and each row is then divided by its sum, so
    a zero probability on the true class costs -log(eps) rather than infinity and rows
    that do not quite sum to one (float32 softmax) still read as distributions. The default
    eps, the float64 machine epsilon, is what scikit-learn >= 1.3 clips to (earlier versions
    used 1e-15); renormalising moves a proper probability row by rounding only.
    """
    y = _labels(y_true, n_classes)
    p = _proba(proba, y.size, int(n_classes))
    if np.any(p < 0):
        raise ValueError("proba holds negative values")
    p = np.clip(p, eps, 1.0 - eps)
    p /= p.sum(axis=1, keepdims=True)
    losses = -np.log(p[np.arange(y.size), y])
    return float(_average(losses, _weights(sample_weight, y.size)))


def _confusion(y_true, y_pred, n_classes, w):
    """float64 (K, K) matrix of (weighted) counts; rows are true classes."""
    flat = y_true * n_classes + y_pred
    cm = np.bincount(flat, weights=w, minlength=n_classes * n_classes)
    return cm.astype(np.float64).reshape(n_classes, n_classes)


def confusion_matrix(y_true, y_pred, n_classes, sample_weight=None):
    """K x K list of lists: entry [i][j] counts samples of true class i predicted as j.

    Counts are ints without weights and weighted sums (floats) with them.
    """
    yt = _labels(y_true, n_classes)
    yp = _labels(y_pred, n_classes, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true {yt.shape} and y_pred {yp.shape} differ in length")
    w = _weights(sample_weight, yt.size)
    return _counts(_confusion(yt, yp, int(n_classes), w), w)


def _divide(num, den):
    """num / den elementwise, 0.0 where den == 0 (scikit-learn's zero_division=0)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _prf(cm):
    """Per-class precision, recall, F1, support and the macro and weighted F1 from a
    confusion matrix (rows true, columns predicted)."""
    tp = np.diag(cm)
    pred_sum = cm.sum(axis=0)
    true_sum = cm.sum(axis=1)
    precision = _divide(tp, pred_sum)
    recall = _divide(tp, true_sum)
    # F1 from counts, 2tp / (2tp + fp + fn), as scikit-learn computes it: 0 when the class
    # is neither present nor predicted
    f1 = _divide(2.0 * tp, true_sum + pred_sum)
    total = true_sum.sum()
    weighted = float(np.dot(f1, true_sum) / total) if total > 0 else 0.0
    return precision, recall, f1, true_sum, float(f1.mean()), weighted


def precision_recall_f1(y_true, y_pred, n_classes, sample_weight=None):
    """Per-class precision, recall, F1 and support, with the macro and weighted F1.

    Returns {"precision": [K], "recall": [K], "f1": [K], "support": [K], "macro_f1": float,
    "weighted_f1": float}. A ratio whose denominator is zero (a class never predicted, or
    absent from y_true) is 0.0, as scikit-learn's zero_division=0. The macro F1 averages all
    K classes, absent ones included, as scikit-learn does with labels=range(K); the weighted
    F1 weights each class by its support. Supports are ints, or weighted sums with weights.
    """
    yt = _labels(y_true, n_classes)
    yp = _labels(y_pred, n_classes, "y_pred")
    if yt.shape != yp.shape:
        raise ValueError(f"y_true {yt.shape} and y_pred {yp.shape} differ in length")
    w = _weights(sample_weight, yt.size)
    precision, recall, f1, support, macro, weighted = _prf(_confusion(yt, yp, int(n_classes), w))
    return {"precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": _counts(support, w), "macro_f1": macro, "weighted_f1": weighted}


def _binary_auc(positive, score, w):
    """Area under the ROC curve of `score` for the boolean labels `positive`, or None when
    one side has no weight.

    Mann-Whitney form: the weighted fraction of (positive, negative) pairs in which the
    positive scores higher, a tie counting one half. It equals the trapezoid under the ROC
    curve through every distinct threshold, so ties are exact.
    """
    if w is None:
        w = np.ones(score.shape[0])
    order = np.argsort(score, kind="mergesort")
    s = score[order]
    pos_w = np.where(positive[order], w[order], 0.0)
    neg_w = np.where(positive[order], 0.0, w[order])
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])  # one group per distinct score
    pos = np.add.reduceat(pos_w, starts)
    neg = np.add.reduceat(neg_w, starts)
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return None
    neg_below = np.cumsum(neg) - neg
    return float(np.dot(pos, neg_below + 0.5 * neg) / (total_pos * total_neg))


def roc_auc(y_true, proba, n_classes, sample_weight=None):
    """Area under the ROC curve, or None where it is undefined.

    Binary (n_classes == 2): the AUC of the positive-class score proba[:, 1].
    Multiclass: one-vs-rest, the unweighted mean over the classes present in y_true of each
    class's AUC for proba[:, k] against all other classes. A class is present when its
    samples carry positive total weight; absent classes are skipped, where scikit-learn
    would raise. With fewer than two classes present there is no negative (or no positive)
    side and the result is None, not NaN. Ties in scores count one half, as in
    scikit-learn's trapezoid through every distinct threshold.
    """
    n_classes = int(n_classes)
    y = _labels(y_true, n_classes)
    p = _proba(proba, y.size, n_classes)
    w = _weights(sample_weight, y.size)
    if n_classes == 2:
        return _binary_auc(y == 1, p[:, 1], w)
    class_weight = np.bincount(y, weights=w, minlength=n_classes)
    present = np.flatnonzero(class_weight > 0)
    if present.size < 2:
        return None
    return float(np.mean([_binary_auc(y == k, p[:, k], w) for k in present]))


def classification_report(y_true, proba, n_classes, sample_weight=None):
    """Every classification figure for probabilistic predictions; y_pred = argmax(proba).

    Returns {"n_samples", "n_classes", "accuracy", "log_loss", "roc_auc" (float or None),
    "precision", "recall", "f1", "support" (per-class lists), "macro_f1", "weighted_f1",
    "confusion_matrix" (K x K, rows true)}.
    """
    n_classes = int(n_classes)
    y = _labels(y_true, n_classes)
    p = _proba(proba, y.size, n_classes)
    w = _weights(sample_weight, y.size)
    y_pred = np.argmax(p, axis=1)
    cm = _confusion(y, y_pred, n_classes, w)
    precision, recall, f1, support, macro, weighted = _prf(cm)
    return {
        "n_samples": int(y.size),
        "n_classes": n_classes,
        "accuracy": accuracy(y, y_pred, w),
        "log_loss": log_loss(y, p, n_classes, w),
        "roc_auc": roc_auc(y, p, n_classes, w),
        "precision": precision.tolist(),
        "recall": recall.tolist(),
        "f1": f1.tolist(),
        "support": _counts(support, w),
        "macro_f1": macro,
        "weighted_f1": weighted,
        "confusion_matrix": _counts(cm, w),
    }


def class_prior(y, n_classes, sample_weight=None):
    """Class frequencies of y (weighted when weights are given): K floats summing to one."""
    y = _labels(y, n_classes, "y")
    counts = np.bincount(y, weights=_weights(sample_weight, y.size), minlength=int(n_classes))
    return (counts / counts.sum()).tolist()


def baseline_classification(y_true, n_classes, prior=None, sample_weight=None):
    """classification_report of the trivial classifier that ignores its input.

    It gives every sample the probabilities `prior` and so predicts the most frequent class
    (the lowest index on a tie). `prior` is K class frequencies, normally those of the
    training labels (`class_prior(y_train, n_classes)`); by default the frequencies of
    y_true itself, weighted by sample_weight. Its accuracy is then the majority frequency.
    """
    n_classes = int(n_classes)
    y = _labels(y_true, n_classes)
    if prior is None:
        prior = class_prior(y, n_classes, sample_weight)
    prior = np.asarray(prior, dtype=np.float64)
    if prior.shape != (n_classes,):
        raise ValueError(f"prior must have shape ({n_classes},), got {prior.shape}")
    if not np.all(np.isfinite(prior)) or np.any(prior < 0) or not prior.sum() > 0:
        raise ValueError("prior must be finite, non-negative and not all zero")
    proba = np.tile(prior / prior.sum(), (y.size, 1))
    return classification_report(y, proba, n_classes, sample_weight)


# ---------------------------------------------------------------------------- regression

def _mse_per_output(yt, yp, w):
    return _average((yt - yp) ** 2, w)


def mse(y_true, y_pred, sample_weight=None):
    """Mean squared error, averaged over outputs."""
    yt, yp = _targets(y_true, y_pred)
    return float(np.mean(_mse_per_output(yt, yp, _weights(sample_weight, yt.shape[0]))))


def rmse(y_true, y_pred, sample_weight=None):
    """Root mean squared error: the mean over outputs of each output's RMSE (as
    scikit-learn's root_mean_squared_error), so with several outputs it is not sqrt(mse)."""
    yt, yp = _targets(y_true, y_pred)
    w = _weights(sample_weight, yt.shape[0])
    return float(np.mean(np.sqrt(_mse_per_output(yt, yp, w))))


def mae(y_true, y_pred, sample_weight=None):
    """Mean absolute error, averaged over outputs."""
    yt, yp = _targets(y_true, y_pred)
    return float(np.mean(_average(np.abs(yt - yp), _weights(sample_weight, yt.shape[0]))))


class R2Sum:
    """R² (averaged over outputs) summed over chunks of rows, so a file read a window at
    a time scores as the whole: per output the targets' weighted mean and sum of squared
    deviations, merged chunk by chunk (Chan et al.'s pairwise update; one chunk gives the
    plain two-pass sums), and the weighted squared residuals."""

    def __init__(self):
        self.n = 0
        self.w = 0.0
        self.mean = self.m2 = self.res = 0.0

    def add(self, y, pred, sw=None):
        y = np.asarray(y, np.float64)
        pred = np.asarray(pred, np.float64)
        if y.ndim == 1:
            y, pred = y[:, None], pred[:, None]
        w = np.ones(len(y)) if sw is None else np.asarray(sw, np.float64)
        ws = w.sum()
        self.res = self.res + (w[:, None] * (y - pred) ** 2).sum(axis=0)
        self.n += len(y)
        if ws == 0:
            return
        mean = (w[:, None] * y).sum(axis=0) / ws
        m2 = (w[:, None] * (y - mean) ** 2).sum(axis=0)
        total = self.w + ws
        delta = mean - self.mean
        self.mean = self.mean + delta * (ws / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.w * ws / total)
        self.w = total

    def score(self):
        """1 - SS_res / SS_tot averaged over outputs; an output of no spread scores 1.0
        when predicted exactly, else 0.0 (scikit-learn's force_finite=True); None with
        fewer than two rows, where R² means nothing (scikit-learn returns NaN)."""
        if self.n < 2:
            return None
        ss_res = np.atleast_1d(self.res)
        ss_tot = np.broadcast_to(self.m2, ss_res.shape)
        score = np.where(ss_res > 0, 0.0, 1.0)
        spread = ss_tot > 0
        score[spread] = 1 - ss_res[spread] / ss_tot[spread]
        return float(score.mean())


def r2(y_true, y_pred, sample_weight=None):
    """Coefficient of determination 1 - SS_res / SS_tot about the (weighted) mean of
    y_true, averaged over outputs: R2Sum over one chunk, so `train` (which sums windows)
    and `eval` score alike, None with fewer than two samples included."""
    yt, yp = _targets(y_true, y_pred)
    acc = R2Sum()
    acc.add(yt, yp, _weights(sample_weight, yt.shape[0]))
    return acc.score()


def regression_report(y_true, y_pred, sample_weight=None):
    """Every regression figure: {"n_samples", "n_outputs", "mse", "rmse", "mae", "r2"}
    ("r2" is None with fewer than two samples)."""
    yt, yp = _targets(y_true, y_pred)
    w = _weights(sample_weight, yt.shape[0])
    return {
        "n_samples": int(yt.shape[0]),
        "n_outputs": int(yt.shape[1]),
        "mse": mse(yt, yp, w),
        "rmse": rmse(yt, yp, w),
        "mae": mae(yt, yp, w),
        "r2": r2(yt, yp, w),
    }


def baseline_regression(y_true, mean=None, sample_weight=None):
    """regression_report of the predictor that always outputs `mean`.

    `mean` is a scalar or one value per output, normally the training targets' mean; by
    default the (weighted) mean of y_true itself, whose R² is then exactly 0 (1.0 for a
    constant y_true, which it predicts perfectly).
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yt2 = yt[:, None] if yt.ndim == 1 else yt
    if yt2.ndim != 2 or yt2.shape[0] == 0:
        raise ValueError(f"y_true must be a non-empty (N,) or (N, K) array, got {yt.shape}")
    w = _weights(sample_weight, yt2.shape[0])
    if mean is None:
        mean = _average(yt2, w)
    mean = np.asarray(mean, dtype=np.float64).ravel()
    if mean.size not in (1, yt2.shape[1]):
        raise ValueError(f"mean must be a scalar or {yt2.shape[1]} values, got {mean.size}")
    y_pred = np.broadcast_to(mean, yt2.shape)
    return regression_report(yt2, y_pred, w)


# ---------------------------------------------------------------------------- curves

def _binary_curve(positive, score, sample_weight=None):
    """(false positives, true positives, thresholds) at each distinct score, highest
    first: the (weighted) counts of negative and positive samples scoring at or above
    it. `positive` is a boolean (N,) array, `score` (N,) finite floats."""
    positive = np.asarray(positive, dtype=bool).ravel()
    score = np.asarray(score, dtype=np.float64).ravel()
    if positive.shape != score.shape:
        raise ValueError(f"labels {positive.shape} and scores {score.shape} differ in length")
    if score.size == 0:
        raise ValueError("y_true is empty")
    if not np.all(np.isfinite(score)):
        raise ValueError("scores hold NaN or infinite values")
    w = _weights(sample_weight, score.size)
    if w is None:
        w = np.ones(score.size)
    order = np.argsort(score, kind="mergesort")[::-1]
    s, pos, w = score[order], positive[order], w[order]
    # the last sample of each run of equal scores closes that threshold
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tps = np.cumsum(np.where(pos, w, 0.0))[last]
    fps = np.cumsum(np.where(pos, 0.0, w))[last]
    return fps, tps, s[last]


def roc_curve(positive, score, sample_weight=None):
    """The ROC curve of `score` for the boolean labels `positive`: (fpr, tpr, thresholds)
    with one point per distinct score, from (0, 0) at threshold +inf to (1, 1), as
    scikit-learn's roc_curve with drop_intermediate=False. None when one side has no
    weight (the curve is undefined, where scikit-learn warns and returns NaN)."""
    fps, tps, thresholds = _binary_curve(positive, score, sample_weight)
    if tps[-1] <= 0 or fps[-1] <= 0:
        return None
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    return fpr, tpr, np.r_[np.inf, thresholds]


def precision_recall_curve(positive, score, sample_weight=None):
    """The precision-recall curve of `score` for the boolean labels `positive`:
    (precision, recall, thresholds) as scikit-learn's precision_recall_curve gives it,
    thresholds rising, recall falling to the closing point (recall 0, precision 1).
    A threshold nothing scores at or above has precision 0. None when no sample is
    positive."""
    fps, tps, thresholds = _binary_curve(positive, score, sample_weight)
    if tps[-1] <= 0:
        return None
    predicted = tps + fps
    precision = _divide(tps, predicted)
    recall = tps / tps[-1]
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def average_precision(positive, score, sample_weight=None):
    """The area under the precision-recall curve as a step function: the sum over
    thresholds of the rise in recall times the precision there (scikit-learn's
    average_precision_score). None when no sample is positive."""
    curve = precision_recall_curve(positive, score, sample_weight)
    if curve is None:
        return None
    precision, recall, _ = curve
    return float(-np.sum(np.diff(recall) * precision[:-1]))


def calibration_curve(positive, prob, n_bins=10):
    """Reliability of predicted probabilities: `prob` cut into n_bins equal-width bins on
    [0, 1]; for each bin holding samples, (share of positives, mean predicted
    probability, sample count), as three arrays. The first two are scikit-learn's
    calibration_curve(strategy="uniform")."""
    positive = np.asarray(positive, dtype=bool).ravel()
    prob = np.asarray(prob, dtype=np.float64).ravel()
    if positive.shape != prob.shape:
        raise ValueError(f"labels {positive.shape} and probabilities {prob.shape} differ "
                         f"in length")
    if prob.size == 0:
        raise ValueError("y_true is empty")
    if not np.all((prob >= 0) & (prob <= 1)):
        raise ValueError("probabilities must lie in [0, 1]")
    n_bins = int(n_bins)
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], prob)
    total = np.bincount(bins, minlength=n_bins)
    true = np.bincount(bins, weights=positive.astype(np.float64), minlength=n_bins)
    summed = np.bincount(bins, weights=prob, minlength=n_bins)
    held = total > 0
    return true[held] / total[held], summed[held] / total[held], total[held]
