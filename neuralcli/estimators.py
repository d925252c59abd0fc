"""MLPClassifier and MLPRegressor: drop-in replacements for scikit-learn's estimators of
the same names, trained by neuralcli's engine.

They take scikit-learn's constructor parameters with the same meaning, and add neuralcli's
own (more activations, adamw and rmsprop, dropout, class weights, schedules, clipping,
dtype, threads). scikit-learn is optional: when it is installed the estimators derive from
its base classes, so they clone, pipeline and grid-search like any other; without it a
small base provides get_params, set_params and score.
"""
import inspect
import numbers
import sys
import warnings

import numpy as np

from neuralcli import head
from neuralcli.lbfgs import fit_lbfgs
from neuralcli.network import MLP, activation_name, resolve_dtype
from neuralcli.optim import OPTIMIZERS
from neuralcli import metrics
from neuralcli.training import (Callback, Task, TrainConfig, Trainer, TrainingError,
                                validation_split)

try:  # scikit-learn is an optional peer
    from sklearn.base import BaseEstimator as _SkBase
    from sklearn.base import ClassifierMixin as _SkClassifier
    from sklearn.base import RegressorMixin as _SkRegressor
    from sklearn.exceptions import ConvergenceWarning, DataConversionWarning, NotFittedError
    _HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    _HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):
        pass

    class ConvergenceWarning(UserWarning):
        pass

    class DataConversionWarning(UserWarning):
        pass

    class _SkBase:
        @classmethod
        def _get_param_names(cls):
            sig = inspect.signature(cls.__init__)
            return sorted(p.name for p in sig.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}")
                setattr(self, key, value)
            return self

        def __repr__(self):
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class _SkClassifier:
        def score(self, X, y, sample_weight=None):
            return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))

    class _SkRegressor:
        def score(self, X, y, sample_weight=None):
            # scikit-learn's R² is NaN where ours is None (fewer than two samples)
            r2 = metrics.r2(y, self.predict(X), sample_weight)
            return float("nan") if r2 is None else r2


SOLVERS = ("lbfgs", *OPTIMIZERS)
LEARNING_RATES = ("constant", "invscaling", "adaptive")
# out_activation_ as scikit-learn names it, by the output's probability link
_SK_OUT_ACTIVATIONS = {"sigmoid": "logistic", "softmax": "softmax", "none": "identity"}


# ------------------------------------------------------------------ input checks

def _check_X(X, n_features=None, who="", reset=False):
    """X as a finite 2-D float64 (or float32) array, with scikit-learn's error types and
    wording."""
    if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
        raise TypeError("A sparse matrix was passed, but dense data is required. "
                        "Use X.toarray() to convert to a dense numpy array.")
    arr = np.asarray(X)
    if np.iscomplexobj(arr):
        raise ValueError("Complex data not supported")
    if arr.dtype.kind not in "fiub":
        # numpy's own TypeError / ValueError name the offending value
        arr = arr.astype(np.float64)
    if arr.ndim != 2:
        raise ValueError(f"Expected 2D array, got {arr.ndim}D array instead. Reshape your "
                         f"data with array.reshape(-1, 1) for a single feature or "
                         f"array.reshape(1, -1) for a single sample.")
    if arr.shape[0] < 1:
        raise ValueError(f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum "
                         f"of 1 is required.")
    if arr.shape[1] < 1:
        raise ValueError(f"Found array with 0 feature(s) (shape={arr.shape}) while a minimum "
                         f"of 1 is required.")
    # float32 stays float32, as scikit-learn's float dtypes do: the network's own dtype
    # is float32 by default, so a float32 X reaches it without a copy
    if arr.dtype != np.float32:
        arr = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        what = ("NaN" if np.isnan(arr).any()
                else f"infinity or a value too large for dtype('{arr.dtype}')")
        raise ValueError(f"Input X contains {what}.")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"X has {arr.shape[1]} features, but {who} is expecting "
                         f"{n_features} features as input.")
    return arr


def _feature_names(X):
    cols = getattr(X, "columns", None)
    if cols is None:
        return None
    names = np.asarray([str(c) for c in cols], dtype=object)
    return names if all(isinstance(c, str) for c in cols) else None


# The estimators' parameters by the TrainConfig setting whose range check covers them.
_PARAMETER_OF_SETTING = {"epochs": "max_iter", "patience": "n_iter_no_change",
                         "lr": "learning_rate_init", "l2": "alpha",
                         "weight_decay": "weight_decay"}


class _Verbose(Callback):
    """scikit-learn's verbose=True output: one line per epoch, on stdout."""

    def on_epoch_end(self, state, logs):
        print(f"Iteration {logs['epoch']}, loss = {logs['loss']:.8f}")
        sys.stdout.flush()


def _plain_label(v):
    return v.item() if isinstance(v, np.generic) else v


def _storable(labels):
    """Class labels as an array the model file takes: numbers stay numbers, anything
    else becomes text."""
    labels = np.asarray(labels)
    if labels.dtype.kind in "iub":
        return labels.astype(np.int64)
    if labels.dtype.kind == "f":
        return labels.astype(np.float64)
    return labels.astype(str)


# ------------------------------------------------------------------ shared base

class _BaseMLP(_SkBase):
    _task_kind = ""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dropout=0.0, weight_decay=0.0,
                 lr_schedule=None, clip_norm=None, dtype="float32", n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.clip_norm = clip_norm
        self.dtype = dtype
        self.n_threads = n_threads

    # -------------------------------------------------------------- parameters

    def _hidden(self):
        h = self.hidden_layer_sizes
        if isinstance(h, numbers.Integral):
            h = (h,)
        try:
            h = [int(v) for v in h]
        except (TypeError, ValueError):
            raise ValueError(f"hidden_layer_sizes must be integers, got {h!r}") from None
        if any(v < 1 for v in h):
            raise ValueError(f"hidden_layer_sizes must be > 0, got {h}.")
        return h

    def _validate_hyperparameters(self):
        if self.solver not in SOLVERS:
            raise ValueError(f"The solver {self.solver!r} is not supported; choose from "
                             f"{', '.join(SOLVERS)}")
        if self.learning_rate not in LEARNING_RATES:
            raise ValueError(f"learning rate {self.learning_rate!r} is not supported")
        activation_name(self.activation)
        # the types are scikit-learn's API; the ranges of the settings the trainer takes
        # are TrainConfig.validate's, said below in these parameters' names
        for value, name in ((self.max_iter, "max_iter"),
                            (self.n_iter_no_change, "n_iter_no_change"),
                            (self.max_fun, "max_fun")):
            if not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an integer, got {value!r}")
        for value, name in ((self.alpha, "alpha"), (self.tol, "tol"),
                            (self.weight_decay, "weight_decay"),
                            (self.learning_rate_init, "learning_rate_init")):
            if not isinstance(value, numbers.Real):
                raise ValueError(f"{name} must be a real number, got {value!r}")
        try:
            TrainConfig(epochs=self.max_iter, patience=self.n_iter_no_change,
                        lr=float(self.learning_rate_init), l2=float(self.alpha),
                        weight_decay=float(self.weight_decay)).validate()
        except TrainingError as err:
            raise ValueError(f"{_PARAMETER_OF_SETTING[err.setting]} {err.message}") from None
        # max_fun (scipy's) and tol (the stopping rule's) are no settings of the trainer
        if self.max_fun < 1:
            raise ValueError(f"max_fun must be at least 1, got {self.max_fun!r}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be a non-negative number, got {self.tol!r}")
        if not 0 <= self.momentum <= 1:
            raise ValueError(f"momentum must be >= 0 and <= 1, got {self.momentum}")
        if not 0 < self.validation_fraction < 1:
            raise ValueError("validation_fraction must be > 0 and < 1, got "
                             f"{self.validation_fraction}")
        for value, name in ((self.beta_1, "beta_1"), (self.beta_2, "beta_2")):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be >= 0 and < 1, got {value}")
        if self.epsilon <= 0:
            raise ValueError(f"epsilon must be > 0, got {self.epsilon}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if self.clip_norm is not None and self.clip_norm <= 0:
            raise ValueError(f"clip_norm must be > 0, got {self.clip_norm}")
        resolve_dtype(self.dtype)
        if self.n_threads is not None and (not isinstance(self.n_threads, numbers.Integral)
                                           or self.n_threads < 1):
            raise ValueError(f"n_threads must be a positive integer, got {self.n_threads!r}")
        if self.batch_size != "auto" and (not isinstance(self.batch_size, numbers.Integral)
                                          or self.batch_size < 1):
            raise ValueError(f"batch_size must be 'auto' or a positive integer, "
                             f"got {self.batch_size!r}")

    def _config(self, n_samples, epochs, has_val):
        bs = min(200, n_samples) if self.batch_size == "auto" else int(self.batch_size)
        if bs > n_samples and self.batch_size != "auto":
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. "
                          "It is going to be clipped", UserWarning)
        bs = max(1, min(bs, n_samples))
        solver = self.solver
        options = {}
        if solver == "sgd":
            options = {"momentum": float(self.momentum) if self.momentum < 1 else 0.999,
                       "nesterov": bool(self.nesterovs_momentum and self.momentum > 0)}
        elif solver in ("adam", "adamw"):
            options = {"beta1": self.beta_1, "beta2": self.beta_2, "eps": self.epsilon}
        elif solver == "rmsprop":
            options = {"eps": self.epsilon}
        schedule, sched_opts = "constant", {}
        if self.lr_schedule is not None:
            schedule = self.lr_schedule
        elif solver == "sgd" and self.learning_rate == "adaptive":
            schedule, sched_opts = "plateau", {"patience": 1, "factor": 0.2,
                                               "threshold": 0.0, "min_lr": 1e-6}
        elif solver == "sgd" and self.learning_rate == "invscaling":
            schedule, sched_opts = "invscaling", {"power_t": self.power_t,
                                                  "samples_per_epoch": n_samples}
        rs = self.random_state
        seed = int(np.random.default_rng().integers(2**31)) if rs is None else (
            int(rs.integers(2**31)) if isinstance(rs, np.random.Generator) else
            int(rs.randint(2**31)) if isinstance(rs, np.random.RandomState) else int(rs))
        return TrainConfig(
            epochs=int(epochs), batch_size=bs, optimizer=solver,
            lr=float(self.learning_rate_init), optimizer_options=options,
            weight_decay=float(self.weight_decay), l2=float(self.alpha),
            schedule=schedule, schedule_options=sched_opts,
            clip_norm=float(self.clip_norm or 0.0),
            # scikit-learn stops on training loss too when early_stopping is off, and keeps
            # the last weights then; with a validation set it goes back to the best ones
            early_stopping=True, patience=int(self.n_iter_no_change),
            min_delta=float(self.tol), restore_best=has_val, shuffle=bool(self.shuffle),
            seed=seed, loss_scale=self._loss_scale)

    # -------------------------------------------------------------- fitting

    def _split(self, X, y, sw, seed):
        """Hold out validation_fraction of the rows, stratified for classifiers."""
        n = len(X)
        train, val = validation_split(n, self.validation_fraction, seed,
                                      None if self._task_kind == "regression" else y)
        if len(val) < 1 or len(train) < 1:
            raise ValueError(f"validation_fraction={self.validation_fraction} leaves no rows "
                             f"for training or for validation out of {n}")
        sw_tr = None if sw is None else sw[train]
        sw_val = None if sw is None else sw[val]
        return X[train], y[train], sw_tr, X[val], y[val], sw_val

    def _build(self, n_features, spec, seed):
        hidden = self._hidden()
        sizes = [n_features] + hidden + [spec.n_out]
        acts = [activation_name(self.activation)] * len(hidden) + [spec.out_act]
        drop = [float(self.dropout)] * len(hidden) + [0.0]
        net = MLP(sizes, acts, dropout=drop, dtype=self.dtype, init=False)
        net.initialize_uniform(seed, 2.0 if activation_name(self.activation) == "sigmoid"
                               else 6.0)
        return net

    def _output(self, n_targets=1):
        """The OutputSpec of this estimator's task (neuralcli.head): the last layer, its
        loss and the link that reads probabilities."""
        raise NotImplementedError

    @property
    def _loss(self):
        return self._output().loss

    @property
    def _out_activation(self):
        """The output's link, named as scikit-learn's out_activation_ names it."""
        return _SK_OUT_ACTIVATIONS[self._output().link]

    def _run(self, X, y, sample_weight, *, epochs, incremental):
        self._validate_hyperparameters()
        n_features = X.shape[1]
        sw = None
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if sw.shape[0] != X.shape[0]:
                raise ValueError(f"sample_weight has {sw.shape[0]} values for {X.shape[0]} "
                                 f"samples")
            if not np.isfinite(sw).all() or (sw < 0).any():
                raise ValueError("sample_weight must be finite and non-negative")
            if not (sw > 0).any():
                raise ValueError("Sample weights must contain at least one non-zero number.")
        sw = self._fold_class_weight(y, sw)
        spec = self._output(y.shape[1] if y.ndim == 2 else 1)
        fresh = not (incremental or self.warm_start) or not hasattr(self, "_model")
        if self.solver == "lbfgs":
            return self._run_lbfgs(X, y, sw, fresh, n_features, spec)
        try:
            with head.threads(self.n_threads):
                use_val = self.early_stopping and not incremental
                probe = self._config(X.shape[0], epochs, use_val)
                if fresh:
                    self._model = self._build(n_features, spec, probe.seed)
                    self._trainer = None
                    self.loss_curve_ = []
                    self.validation_scores_ = [] if use_val else None
                    self.best_validation_score_ = None if not use_val else -np.inf
                    self.t_ = 0
                    self.n_iter_ = 0
                if use_val:
                    X_tr, y_tr, sw_tr, X_val, y_val, sw_val = self._split(X, y, sw,
                                                                          probe.seed)
                else:
                    X_tr, y_tr, sw_tr, X_val, y_val, sw_val = X, y, sw, None, None, None
                cfg = self._config(len(X_tr), epochs, use_val)
                cfg.seed = probe.seed
                if incremental:
                    cfg.early_stopping = False
                callbacks = [_Verbose()] if self.verbose else []
                task = Task(self._task_kind, spec.loss, self._model.sizes[-1])
                if self._trainer is None or not incremental:
                    self._trainer = Trainer(self._model, task, cfg, callbacks)
                else:
                    self._trainer.cfg = cfg
                    self._trainer.state.history = []
                yt = self._encode_targets(y_tr, spec)
                yv = None if X_val is None else self._encode_targets(y_val, spec)
                state = self._trainer.fit(X_tr, yt, sw_tr, X_val, yv, sw_val)
        except TrainingError as exc:
            raise ValueError(str(exc)) from None
        self._record(state, len(X_tr), use_val)
        if state.stop_reason == "interrupted":
            # the best weights so far are kept, but a Ctrl-C must still stop the caller
            raise KeyboardInterrupt
        if state.stop_reason == "diverged":
            warnings.warn(state.message, RuntimeWarning)
        elif state.stop_reason == "completed" and not incremental:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({epochs}) reached and "
                          f"the optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _run_lbfgs(self, X, y, sw, fresh, n_features, spec):
        """Full-batch L-BFGS on all rows (no validation split, batches or schedule, as in
        scikit-learn), from fresh weights or, with warm_start, the fitted ones."""
        try:
            with head.threads(self.n_threads):
                cfg = self._config(X.shape[0], self.max_iter, False)
                if fresh:
                    self._model = self._build(n_features, spec, cfg.seed)
                    self._trainer = None
                    self.loss_curve_ = []
                    self.n_iter_ = 0
                    self.t_ = 0
                res = fit_lbfgs(self._model, spec.loss, X, self._encode_targets(y, spec),
                                sw, l2=float(self.alpha), loss_scale=self._loss_scale,
                                max_iter=self.max_iter, max_fun=self.max_fun, tol=self.tol)
        except TrainingError as exc:
            raise ValueError(str(exc)) from None
        self.loss_curve_ = list(self.loss_curve_) + res.history
        self.n_iter_ = min(res.n_iter, self.max_iter)
        self.t_ += res.n_iter * X.shape[0]
        self.loss_ = res.loss
        self.best_loss_ = None
        self.validation_scores_ = None
        self.best_validation_score_ = None
        self._record_network()
        self.stop_reason_ = "converged" if res.converged else "not_converged"
        if not res.converged:
            warnings.warn(f"lbfgs failed to converge after {res.n_iter} iteration(s) "
                          f"(status={res.status}): {res.message}. Increase the number of "
                          f"iterations (max_iter) or evaluations (max_fun), or scale the "
                          f"data.", ConvergenceWarning)
        return self

    def _record(self, state, n_train, use_val):
        hist = state.history
        self.loss_curve_ = list(self.loss_curve_) + [h["loss"] for h in hist]
        if use_val:
            key = "val_accuracy" if self._task_kind != "regression" else "val_r2"
            # an R² of one validation row is NaN here, as in scikit-learn
            self.validation_scores_ = list(self.validation_scores_) + [
                np.nan if h[key] is None else h[key] for h in hist]
            self.best_validation_score_ = max(self.validation_scores_) \
                if self.validation_scores_ else None
            self.best_loss_ = None
        else:
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else np.inf
        self.n_iter_ += len(hist)
        self.t_ += len(hist) * n_train
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else np.inf
        self._record_network()
        self.stop_reason_ = state.stop_reason

    def _record_network(self):
        """The fitted network's shape attributes, as scikit-learn names them."""
        self.n_layers_ = self._model.n_layers + 1
        self.n_outputs_ = self._model.sizes[-1]
        self.out_activation_ = self._out_activation

    def _fold_class_weight(self, y, sw):
        return sw

    def _check_stochastic(self):
        if self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers. "
                                 "lbfgs is not stochastic.")

    def _require_y(self, y):
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target "
                             f"y is None.")

    # -------------------------------------------------------------- fitted state

    def _check_fitted(self):
        if not hasattr(self, "_model"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. "
                                 f"Call 'fit' with appropriate arguments before using this "
                                 f"estimator.")

    @property
    def coefs_(self):
        self._check_fitted()
        return list(self._model.weights)

    @property
    def intercepts_(self):
        self._check_fitted()
        return list(self._model.biases)

    def _forward(self, X):
        self._check_fitted()
        X = _check_X(X, self.n_features_in_, type(self).__name__)
        with head.threads(self.n_threads):
            return self._model.forward(X).astype(np.float64)

    def _set_features(self, X_in, X):
        names = _feature_names(X_in)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self.n_features_in_ = X.shape[1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags

    def __sklearn_is_fitted__(self):
        return hasattr(self, "_model")

    # -------------------------------------------------------------- persistence

    def to_onnx(self):
        """The fitted network as an ONNX ModelProto (`onnx.save(model, path)` writes it):
        one input `input` [N, n_features] in the network's dtype, as skl2onnx exports an
        MLP outside a Pipeline; a classifier's outputs `label` and `probabilities` (no
        ZipMap), a regressor's `value` [N, n_outputs]. Needs the onnx package
        (pip install "neuralcli[onnx]"); docs/export.md has the details."""
        from neuralcli.onnx_export import export_estimator

        return export_estimator(self)

    def save(self, path):
        """Write the fitted estimator to one model file (see docs/model-format.md): the
        network, its settings, label names and training history. No pickle."""
        from neuralcli import persist

        self._check_fitted()
        params = {}
        for key, value in self.get_params().items():
            if isinstance(value, tuple):
                value = list(value)
            if isinstance(value, dict):
                value = {"__pairs__": [[_plain_label(k), v] for k, v in value.items()]}
            if value is None or isinstance(value, (str, bool, int, float, list, dict)):
                params[key] = value
            else:  # a RandomState or Generator: the fitted weights carry its effect
                params[key] = None
        meta = {
            "kind": "estimator", "estimator": type(self).__name__, "params": params,
            "task": self._task_kind, "loss": self._loss,
            "n_features_in": int(self.n_features_in_),
            "y_ndim": int(getattr(self, "_y_ndim", 1)),
            "history": {"loss_curve": [float(v) for v in self.loss_curve_],
                        "validation_scores": None if self.validation_scores_ is None
                        else [float(v) for v in self.validation_scores_],
                        "n_iter": int(self.n_iter_), "t": int(self.t_),
                        "stop_reason": getattr(self, "stop_reason_", "")},
        }
        arrays = {}
        if hasattr(self, "classes_"):
            arrays["classes"] = _storable(self.classes_)
        if hasattr(self, "feature_names_in_"):
            arrays["feature_names"] = np.asarray(self.feature_names_in_, dtype=str)
        persist.save(path, self._model, meta=meta, arrays=arrays)

    @classmethod
    def load(cls, path):
        """Read an estimator written by save(); the file's network is used as it is."""
        from neuralcli import persist

        saved = persist.load(path)
        meta = saved.meta
        if meta.get("kind") != "estimator" or meta.get("estimator") != cls.__name__:
            raise persist.ModelFileError(
                f"{path}: holds a {meta.get('estimator') or 'command-line'} model, not a "
                f"{cls.__name__}")
        n_in, n_out = saved.model.sizes[0], saved.model.sizes[-1]
        try:
            params = dict(meta["params"])
            for key, value in params.items():
                if isinstance(value, dict) and "__pairs__" in value:
                    params[key] = {k: v for k, v in value["__pairs__"]}
            if isinstance(params.get("hidden_layer_sizes"), list):
                params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
            valid = set(cls._get_param_names())
            est = cls(**{k: v for k, v in params.items() if k in valid})
            est._model = saved.model
            est._trainer = None
            est.n_features_in_ = meta["n_features_in"]
            est._y_ndim = meta.get("y_ndim", 1)
            if "classes" in saved.arrays:
                est.classes_ = saved.arrays["classes"]
            if "feature_names" in saved.arrays:
                est.feature_names_in_ = saved.arrays["feature_names"].astype(object)
            hist = meta["history"]
            est.loss_curve_ = hist["loss_curve"]
            est.validation_scores_ = hist["validation_scores"]
            est.n_iter_, est.t_ = hist["n_iter"], hist["t"]
            est.loss_ = est.loss_curve_[-1] if est.loss_curve_ else np.inf
            est.best_loss_ = None if est.validation_scores_ is not None else \
                (min(est.loss_curve_) if est.loss_curve_ else np.inf)
            est.best_validation_score_ = max(est.validation_scores_) \
                if est.validation_scores_ else None
            est._record_network()
            est.stop_reason_ = hist.get("stop_reason", "")
            spec = est._output(n_out)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as err:
            raise persist.ModelFileError(f"{path}: the estimator's description is damaged "
                                         f"({err}); fit and save it again") from None
        if est.n_features_in_ != n_in or spec.n_out != n_out or est._y_ndim not in (1, 2) \
                or (est._y_ndim == 1 and n_out != 1 and isinstance(est, MLPRegressor)):
            raise persist.ModelFileError(
                f"{path}: the estimator's description ({str(est.n_features_in_)[:20]} "
                f"features, {spec.n_out} outputs) does not match its network ({n_in} "
                f"inputs, {n_out} outputs); the file is inconsistent")
        return est


# ------------------------------------------------------------------ classifier

class MLPClassifier(_SkClassifier, _BaseMLP):
    """Multi-layer perceptron classifier (binary: one logit and cross-entropy; more
    classes: softmax and cross-entropy). Adds `class_weight` ('balanced' or a dict)."""
    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dropout=0.0, weight_decay=0.0,
                 lr_schedule=None, clip_norm=None, dtype="float32", n_threads=None,
                 class_weight=None):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            dropout=dropout,
            weight_decay=weight_decay, lr_schedule=lr_schedule, clip_norm=clip_norm,
            dtype=dtype, n_threads=n_threads)
        self.class_weight = class_weight

    _loss_scale = 1.0

    @property
    def _binary(self):
        return len(self.classes_) == 2

    @property
    def _task_kind(self):
        return "binary" if self._binary else "multiclass"

    def _output(self, n_targets=1):
        # logits and cross-entropy; the link is applied in predict_proba
        return head.output_spec(self._task_kind, len(self.classes_), 1)

    def _labels(self, y):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected. "
                          "Please change the shape of y to (n_samples, ), for example "
                          "using ravel().", DataConversionWarning)
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y should be a 1d array, got an array of shape {y.shape} "
                             f"instead.")
        if y.dtype.kind == "f" and not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        if y.dtype.kind == "f" and np.any(y != np.round(y)):
            raise ValueError("Unknown label type: continuous. Maybe you are trying to fit a "
                             "classifier, which expects discrete classes on a regression "
                             "target with continuous values.")
        return y

    def _encode_targets(self, y, spec):
        return head.encode_targets(np.searchsorted(self.classes_, y), spec, self._task_kind)

    def _fold_class_weight(self, y, sw):
        cw = self.class_weight
        if cw is None:
            return sw
        idx = np.searchsorted(self.classes_, y)
        if isinstance(cw, str):
            if cw != "balanced":
                raise ValueError(f"class_weight must be 'balanced', a dict or None, got {cw!r}")
            weights = head.balanced_class_weights(
                np.bincount(idx, minlength=len(self.classes_)))
        elif isinstance(cw, dict):
            weights = np.ones(len(self.classes_))
            for label, w in cw.items():
                pos = np.flatnonzero(self.classes_ == label)
                if len(pos) == 0:
                    raise ValueError(f"class_weight names class {label!r}, which is not in "
                                     f"the data")
                weights[pos[0]] = float(w)
        else:
            raise ValueError(f"class_weight must be 'balanced', a dict or None, got {cw!r}")
        w = weights[idx]
        return w if sw is None else sw * w

    def fit(self, X, y, sample_weight=None):
        self._require_y(y)
        X_in = X
        X = _check_X(X)
        y = self._labels(y)
        if len(y) != len(X):
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{len(X)}, {len(y)}]")
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"The target has only one class ({classes[0]!r}); a classifier "
                             f"needs at least 2 classes.")
        if self.warm_start and hasattr(self, "classes_") and \
                not np.array_equal(classes, self.classes_):
            raise ValueError("warm_start can only be used where `y` has the same classes as "
                             "in the previous call to fit.")
        self.classes_ = classes
        self._set_features(X_in, X)
        return self._run(X, y, sample_weight, epochs=self.max_iter, incremental=False)

    @property
    def partial_fit(self):
        """One epoch over X, y: partial_fit(X, y, classes=None, sample_weight=None); the
        first call needs `classes`, every label there is. Stochastic solvers only."""
        self._check_stochastic()
        return self._partial_fit

    def _partial_fit(self, X, y, classes=None, sample_weight=None):
        X_in = X
        first = not hasattr(self, "_model")
        X = _check_X(X, None if first else self.n_features_in_, type(self).__name__)
        y = self._labels(y)
        if first:
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
            self.classes_ = np.unique(np.asarray(classes))
            if len(self.classes_) < 2:
                raise ValueError("classes must name at least 2 classes")
            self._set_features(X_in, X)
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={list(classes)}` is not the same as on the last call "
                             f"to partial_fit, was: {list(self.classes_)}")
        unseen = np.setdiff1d(np.unique(y), self.classes_)
        if len(unseen):
            raise ValueError(f"y has labels {list(unseen)} that are not in classes "
                             f"{list(self.classes_)}")
        return self._run(X, y, sample_weight, epochs=1, incremental=True)

    def predict_proba(self, X):
        return head.probabilities(self._forward(X), self._output(), self._task_kind)

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        out = self._forward(X)
        idx = (out[:, 0] > 0).astype(int) if self._binary else out.argmax(axis=1)
        return self.classes_[idx]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags




# ------------------------------------------------------------------ regressor

class MLPRegressor(_SkRegressor, _BaseMLP):
    """Multi-layer perceptron regressor: identity output, squared error (or any loss from
    neuralcli's table via `loss`), one or several outputs."""
    _task_kind = "regression"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, max_fun=15000, dropout=0.0, weight_decay=0.0,
                 lr_schedule=None, clip_norm=None, dtype="float32", n_threads=None,
                 loss="squared_error"):
        super().__init__(
            hidden_layer_sizes, activation, solver=solver, alpha=alpha,
            batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum,
            nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
            validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2,
            epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
            dropout=dropout,
            weight_decay=weight_decay, lr_schedule=lr_schedule, clip_norm=clip_norm,
            dtype=dtype, n_threads=n_threads)
        self.loss = loss

    def _output(self, n_targets=1):
        return head.output_spec("regression", 0, n_targets, self._loss)

    @property
    def _loss(self):
        if self.loss in ("squared_error", "mse"):
            return "mse"
        if self.loss in ("absolute_error", "mae"):
            return "mae"
        raise ValueError(f"loss must be 'squared_error' or 'absolute_error', got {self.loss!r}")

    @property
    def _loss_scale(self):
        # scikit-learn's squared loss is half the mean squared error; training on the same
        # objective keeps alpha and the learning rate meaning what they mean there
        return 0.5 if self._loss == "mse" else 1.0

    def _targets(self, y):
        y = np.asarray(y)
        if y.dtype.kind not in "fiub":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise ValueError("y must be numeric for a regressor") from None
        y = y.astype(np.float64)
        if y.ndim not in (1, 2):
            raise ValueError(f"y must be 1-D or 2-D, got shape {y.shape}")
        if not np.isfinite(y).all():
            raise ValueError("Input y contains NaN or infinity.")
        return y

    def _encode_targets(self, y, spec):
        return head.encode_targets(y, spec, "regression")

    def fit(self, X, y, sample_weight=None):
        self._require_y(y)
        X_in = X
        X = _check_X(X)
        y = self._targets(y)
        if len(y) != len(X):
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{len(X)}, {len(y)}]")
        self._y_ndim = y.ndim
        self._set_features(X_in, X)
        return self._run(X, y, sample_weight, epochs=self.max_iter, incremental=False)

    @property
    def partial_fit(self):
        """One epoch over X, y: partial_fit(X, y, sample_weight=None). Stochastic solvers
        only."""
        self._check_stochastic()
        return self._partial_fit

    def _partial_fit(self, X, y, sample_weight=None):
        X_in = X
        first = not hasattr(self, "_model")
        X = _check_X(X, None if first else self.n_features_in_, type(self).__name__)
        y = self._targets(y)
        if first:
            self._y_ndim = y.ndim
            self._set_features(X_in, X)
        return self._run(X, y, sample_weight, epochs=1, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    def predict(self, X):
        out = self._forward(X)
        return out[:, 0] if self._y_ndim == 1 else out
