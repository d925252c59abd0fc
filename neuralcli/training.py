"""The training loop. Every step is a handful of kernel calls on buffers made once per
batch size: forward, fused loss and gradient, backward, optional clipping, one optimizer
pass. The loop reports through callbacks and never prints."""
import math
import time
from dataclasses import dataclass, field

import numpy as np

from neuralcli import _kernels, diagnostics, losses, metrics
from neuralcli._kernels import nc_task
from neuralcli.losses import LOSSES, loss_name
from neuralcli.network import Encoded
from neuralcli.kernels import workspace
from neuralcli.optim import OPTIMIZERS, make_optimizer
from neuralcli.schedules import make_schedule
from neuralcli.spill import SpilledRows, take_rows


class TrainingError(Exception):
    """A problem with the training data or settings that the user can fix. When one
    setting's value is out of its range, `setting` names it (a field of TrainConfig or of
    model.Settings) and `message` says what is wrong with the value; str() is the two
    together, "lr must be a positive number, got -1.0"."""

    def __init__(self, message, *, setting=None):
        self.message = message
        self.setting = setting
        super().__init__(message if setting is None else f"{setting} {message}")


@dataclass
class TrainConfig:
    epochs: int = 200
    batch_size: int = 32            # 0 or None: the whole training set in one batch
    optimizer: str = "adam"
    lr: float = 1e-3
    optimizer_options: dict = field(default_factory=dict)
    weight_decay: float = 0.0       # the optimizer's decay (decoupled for adamw)
    l2: float = 0.0                 # scikit-learn's alpha: penalty alpha/(2*batch) * |W|^2
    schedule: str = "constant"
    schedule_options: dict = field(default_factory=dict)
    clip_norm: float = 0.0          # 0: no clipping
    early_stopping: bool = False
    patience: int = 10
    min_delta: float = 1e-4         # an improvement smaller than this does not count
    restore_best: bool = True       # early stopping goes back to the best epoch's weights
    shuffle: bool = True
    seed: int = 0
    loss_scale: float = 1.0         # train on loss_scale * loss (0.5: scikit-learn's half MSE)

    def validate(self):
        """The one check of these settings' ranges: a TrainingError naming the first
        setting out of its range. batch_size and clip_norm may be None, as 0."""
        for name, value, low in (("epochs", self.epochs, 1),
                                 ("batch_size", self.batch_size or 0, 0),
                                 ("patience", self.patience, 1), ("seed", self.seed, 0)):
            if int(value) < low:
                raise TrainingError(f"must be at least {low}, got {value}", setting=name)
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise TrainingError(f"must be a positive number, got {self.lr}", setting="lr")
        for name, value in (("weight_decay", self.weight_decay), ("l2", self.l2),
                            ("clip_norm", self.clip_norm or 0.0)):
            if not (value >= 0 and math.isfinite(value)):
                raise TrainingError(f"must be a non-negative number, got {value}",
                                    setting=name)


@dataclass
class TrainState:
    """What callbacks see and may change: set `stop = True` to end after this batch (this
    run of batches, when they run in C)."""
    epoch: int = 0                  # 0-based epoch in progress
    step: int = 0                   # optimizer steps taken
    batch: int = 0
    batches_per_epoch: int = 0
    epochs: int = 0
    samples: int = 0                # training rows
    lr: float = 0.0
    stop: bool = False
    stop_reason: str = ""
    message: str = ""
    best_epoch: int = 0             # 1-based; 0 until an epoch completes
    kept_epoch: int = 0             # the epoch whose end the final weights are (0: none)
    best_loss: float = math.inf
    history: list = field(default_factory=list)
    elapsed: float = 0.0
    fit_state: object = None        # a FitState of the last epoch's end, when kept


@dataclass
class FitState:
    """Where a fit stands at the end of an epoch: everything that continues it exactly
    (Trainer.fit's resume) to the weights and history an uninterrupted fit ends with.
    The arrays are copies, the rest plain numbers, lists and dicts."""
    epoch: int                      # epochs completed
    step: int                       # optimizer steps taken: the dropout masks' key
    params: np.ndarray              # the weights at that epoch's end
    best: np.ndarray                # the best epoch's weights
    initial: np.ndarray             # the weights before training, which a divergence keeps
    optimizer_t: int                # the optimizer's step count
    optimizer_state: list           # its state buffers (OPTIMIZERS' slots)
    rng: dict                       # the shuffle's bit generator state
    schedule: dict                  # Schedule.state()
    best_epoch: int
    best_loss: float
    no_improve: int                 # epochs since the best one, for early stopping
    start_loss: object              # the first batch's loss (divergence is measured on it)
    history: list
    elapsed: float                  # seconds of training so far


class Callback:
    """Hooks of the training loop. on_batch_end comes after each run of batches: logs
    holds "batch" (the epoch's batches done), "batches" (how many this call covers: 1 in
    the per-batch loop, up to ~0.1 s worth in compiled runs), "loss" (the last batch's)
    and "epoch" (1-based)."""

    def on_train_begin(self, state):
        pass

    def on_batch_end(self, state, logs):
        pass

    def on_epoch_end(self, state, logs):
        pass

    def on_train_end(self, state):
        pass


# task kind -> enum nc_task, by which the compiled runs count correct predictions
TASK_CODES = {"binary": nc_task.NC_TASK_BINARY, "multiclass": nc_task.NC_TASK_MULTICLASS,
              "regression": nc_task.NC_TASK_REGRESSION}


@dataclass
class Task:
    """How outputs are read: kind is a name of TASK_CODES."""
    kind: str
    loss: str
    n_outputs: int

    @property
    def classification(self):
        return self.kind in ("binary", "multiclass")


def validation_split(n, fraction, seed, labels=None):
    """(train, val) row indices with `fraction` of the n rows held out for validation;
    per class when labels are given (stratified), each class keeping a training row."""
    rng = np.random.default_rng(seed + 1)
    if labels is None:
        val = np.sort(rng.permutation(n)[:int(round(fraction * n))])
    else:
        parts = []
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            rng.shuffle(idx)
            parts.append(idx[:min(int(round(fraction * len(idx))), len(idx) - 1)])
        val = np.sort(np.concatenate(parts)) if parts else np.array([], dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    return np.flatnonzero(keep), val


class _Rows:
    """Rows held in memory as named arrays (dense, and codes, y, sw where present), cut
    into batches the way SpilledRows cuts spilled ones."""

    def __init__(self, **arrays):
        self.arrays = {k: a for k, a in arrays.items() if a is not None}

    def __len__(self):
        return len(self.arrays["y"])

    def batches(self, batch_rows, rng=None, shuffle=False):
        """Yield one epoch's batches (name -> array): consecutive slices, or when shuffling,
        the rows of one permutation drawn from rng, gathered batch by batch into buffers
        that the next batch overwrites (the whole data is never copied)."""
        n, bs = len(self), int(batch_rows)
        if not shuffle:
            for lo in range(0, n, bs):
                yield {k: a[lo:lo + bs] for k, a in self.arrays.items()}
            return
        perm = rng.permutation(n)
        bufs = {k: np.empty((bs,) + a.shape[1:], a.dtype) for k, a in self.arrays.items()}
        for lo in range(0, n, bs):
            idx = perm[lo:lo + bs]
            m = len(idx)
            for k, a in self.arrays.items():
                # the method skips np.take's dispatch, and mode "clip" (the indices are in
                # range) its copy through a temporary: under a microsecond at 32 rows
                a.take(idx, axis=0, out=bufs[k][:m], mode="clip")
            yield bufs if m == bs else {k: b[:m] for k, b in bufs.items()}


class Trainer:
    """Trains one MLP on arrays already encoded for the task:
    X float (N, C), or an Encoded (dense (N, n_dense) floats and int32 codes (N, n_cat)
    that select the first layer's categorical rows); y int32 labels (N,) for
    cross_entropy, float (N, K) otherwise. X may instead be a SpilledRows, whose spill
    holds the same arrays (and the row weights), read back a window at a time.

    An epoch's batches run in compiled runs: each call trains batch after batch in C
    (gather, step, sums) until the batches run out or run_seconds pass, then returns to
    Python for the callbacks, stop requests and signals. So on_batch_end reports a run
    at a time: logs["batch"] is the epoch's batches done so far, logs["batches"] how many
    this report covers, logs["loss"] the last one's loss; a stop request or Ctrl-C takes
    effect after the current run. The weights and history are bitwise those of one step
    per batch (compiled_runs = False), which a subclass that overrides step gets too."""

    compiled_runs = True
    run_seconds = 0.1

    def __init__(self, model, task, config, callbacks=()):
        config.validate()
        if not model.trainable:
            raise TrainingError("this network has a step activation, which has no gradient "
                                "and cannot be trained")
        self.model = model
        self.task = task
        self.loss = loss_name(task.loss)
        self.cfg = config
        self.callbacks = list(callbacks)
        self.grads = np.zeros_like(model.params)
        opts = dict(config.optimizer_options)
        self.optimizer = make_optimizer(config.optimizer, model.n_params, model.dtype,
                                        weight_decay=config.weight_decay, **opts)
        self.schedule = make_schedule(config.schedule, config.lr, config.epochs,
                                      **config.schedule_options)
        self.state = TrainState()
        self._labels = LOSSES[self.loss].targets == "labels"
        self._fused = model.fused
        self._loss_code = LOSSES[self.loss].code
        self.last_out = None  # the network's output on the last batch (per-batch steps)
        self._gather = None
        self._run_cache = None
        self.diag = None      # the fit's diagnostics sums (network.MLP.diagnostics)
        # keep a FitState of each epoch's end in state.fit_state (for checkpoints)
        self.keep_fit_state = False

    # -------------------------------------------------------------- one step

    def step(self, xb, yb, swb, lr, seed, codes=None):
        """Forward, loss, backward, clip and update on one batch of dense inputs xb and,
        for a network with categorical rows, their codes; returns the loss."""
        model, st, diag = self.model, self.state, self.diag
        n = xb.shape[0]
        st.step += 1
        # objective: s*loss + l2/(2n)*|W|^2; backward gives dloss + l2'*W and the optimizer
        # multiplies by s, so l2' = l2/(n*s)
        s = self.cfg.loss_scale
        l2 = self.cfg.l2 / (n * s) if self.cfg.l2 else 0.0
        if self._fused:
            work, out = model.small_buffers(n)
            t, labels = (None, yb) if self._labels else (yb, None)
            loss = model.fused_step(self.grads, out, work, xb, t, labels, swb, self.loss,
                                    l2=l2, codes=codes, diag=diag)
            self.last_out = out
            if not math.isfinite(loss):
                return loss
        else:
            work, out, dout = model.buffers(n)
            model.forward_into(out, work, xb, codes, train=True, seed=seed, step=st.step)
            if diag is not None:
                model.diag_acts(diag, work, n)
            self.last_out = out
            loss = losses.evaluate(self.loss, out, yb, swb, dout)
            if not math.isfinite(loss):
                return loss
            model.backward_into(self.grads, work, dout, xb, out, codes, seed=seed,
                                step=st.step, l2=l2)
        scale = s
        if self.cfg.clip_norm:
            norm = s * math.sqrt(_kernels.sum_squares(self.grads))
            if not math.isfinite(norm):
                return math.nan
            if norm > self.cfg.clip_norm:
                scale = s * self.cfg.clip_norm / norm
        # the measured steps' passes around the update; the others are only counted
        measure = diag is not None and diag.measures()
        if measure:
            model.diag_before(diag, self.grads, n)
        self.optimizer.step(model.params, self.grads, lr, scale)
        if measure:
            model.diag_after(diag)
        elif diag is not None:
            diag.count(n)
        loss *= s
        if l2:
            loss += 0.5 * (self.cfg.l2 / n) * self._weight_sq()
        return loss

    def _weight_sq(self):
        return sum(_kernels.sum_squares(w.reshape(-1)) for w in self.model.weights)

    # -------------------------------------------------------------- evaluation

    def _prepare(self, X, y, sample_weight):
        """The arrays as the kernels take them: X and weights in the model's dtype (an
        Encoded stays one, with int32 codes), labels int32 (N,) for cross-entropy,
        targets (N, K) otherwise."""
        dt = self.model.dtype
        if isinstance(X, Encoded):
            X = Encoded(*self.model._as_input(X))
        else:
            X = np.ascontiguousarray(X, dtype=dt)
        y = np.ascontiguousarray(y, dtype=np.int32 if self._labels else dt)
        if not self._labels and y.ndim == 1:
            y = y.reshape(-1, 1)
        sw = None if sample_weight is None else np.ascontiguousarray(sample_weight, dt)
        return X, y, sw

    def _rows(self, X, y, sample_weight, what="training"):
        """The data as named row arrays: a SpilledRows checked against the model, or
        arrays prepared for the kernels."""
        if isinstance(X, SpilledRows):
            if y is not None or sample_weight is not None:
                raise TrainingError(f"the {what} rows are spilled rows, which hold their own "
                                    f"targets and weights; pass them without y or weights")
            self._check_spilled(X, what)
            return X
        if y is None:
            raise TrainingError(f"the {what} rows need targets (y)")
        X, y, sw = self._prepare(X, y, sample_weight)
        if isinstance(X, Encoded):
            return _Rows(dense=X.dense, codes=X.codes, y=y, sw=sw)
        return _Rows(dense=X, y=y, sw=sw)

    def _check_spilled(self, rows, what):
        model = self.model
        dt = model.dtype
        has_codes = rows.has("codes")
        want = {"dense": (dt, (model.n_dense if has_codes else model.sizes[0],)),
                "y": (np.dtype(np.int32), ()) if self._labels else
                     (dt, (model.sizes[-1],)),
                "sw": (dt, ())}
        for name, (d, shape) in want.items():
            if not rows.has(name):
                continue
            got_d, got_shape = rows.spill.spec[name]
            if got_d != d or got_shape != shape:
                raise TrainingError(
                    f"the spilled {what} rows' {name} array holds {got_d} rows of shape "
                    f"{got_shape}; this network takes {np.dtype(d)} rows of shape {shape}; "
                    f"spill the rows as the network takes them")
        if has_codes:
            d, shape = rows.spill.spec["codes"]
            if d != np.int32 or len(shape) != 1:
                raise TrainingError(f"the spilled {what} rows' codes array holds {d} rows of "
                                    f"shape {shape}; codes are int32 rows (n_cat,)")

    def evaluate(self, X, y=None, sample_weight=None):
        """(loss, metric) of the model on a data set, in eval mode: accuracy, or R^2 (None
        for fewer than two rows, where it means nothing, as in `eval`). A SpilledRows is
        read a window at a time in file order, its loss and metric summed over the
        windows."""
        if isinstance(X, SpilledRows):
            self._rows(X, y, sample_weight, "evaluation")
            return self._evaluate_spilled(X)
        if y is None:
            raise TrainingError("the evaluation rows need targets (y)")
        X, y, sample_weight = self._prepare(X, y, sample_weight)
        out = self.model.forward(X)
        loss = losses.evaluate(self.loss, out, y, sample_weight)
        if self.task.classification:
            correct = metrics.count_correct(y, out, self.task.kind, self.loss)
            metric = correct / max(1, len(X))
        else:
            # metrics.r2's computation, which also scores rows of no total weight (0.0)
            acc = metrics.R2Sum()
            acc.add(y, out, sample_weight)
            metric = acc.score()
        return float(loss) * self.cfg.loss_scale, None if metric is None else float(metric)

    def _evaluate_spilled(self, rows):
        loss_sum = weight_sum = 0.0
        correct = 0
        r2 = metrics.R2Sum()
        for arrays, _ in rows.windows():
            x = arrays["dense"]
            if "codes" in arrays:
                x = Encoded(x, arrays["codes"])
            y, sw = arrays["y"], arrays.get("sw")
            out = self.model.forward(x)
            loss = losses.evaluate(self.loss, out, y, sw)
            # each window's loss is a weighted mean: sum them by their weights
            w = len(y) if sw is None else float(sw.sum(dtype=np.float64))
            loss_sum += float(loss) * w
            weight_sum += w
            if self.task.classification:
                correct += metrics.count_correct(y, out, self.task.kind, self.loss)
            else:
                r2.add(y, out, sw)
        loss = loss_sum / weight_sum if weight_sum else 0.0
        if self.task.classification:
            metric = correct / max(1, len(rows))
        else:
            metric = r2.score()
        return float(loss) * self.cfg.loss_scale, None if metric is None else float(metric)

    # -------------------------------------------------------------- the loop

    def fit(self, X, y=None, sample_weight=None, X_val=None, y_val=None, val_weight=None,
            *, resume=None):
        """Train on X (arrays, an Encoded or a SpilledRows) for cfg.epochs epochs, each
        visiting every row once in an order drawn from cfg.seed: one permutation of all
        rows in memory; for spilled rows, the seeded block shuffle, the rows shuffled
        within each window. Returns the TrainState.

        resume: a FitState of a fit of this network on the same data and settings; the
        fit goes on from its epoch and ends with the weights and history of a fit that
        was never stopped (cfg.epochs counts the epochs before it too)."""
        cfg, model, st = self.cfg, self.model, self.state
        rows = self._rows(X, y, sample_weight)
        n = len(rows)
        if n == 0:
            raise TrainingError("no training rows")
        has_val = X_val is not None and len(X_val) > 0
        if has_val and isinstance(X_val, SpilledRows):
            self._check_spilled(X_val, "validation")
        elif has_val:
            X_val, y_val, val_weight = self._prepare(X_val, y_val, val_weight)
        bs = n if not cfg.batch_size else min(int(cfg.batch_size), n)
        nb = (n + bs - 1) // bs
        shuffle = cfg.shuffle and nb > 1
        rng = np.random.default_rng(cfg.seed)
        st.epochs, st.samples, st.batches_per_epoch = int(cfg.epochs), n, nb
        initial = model.params.copy()       # the weights before training
        best = model.params.copy()          # weights of the best monitored epoch
        # what a divergence measures the kept weights on: the validation rows, else the
        # training rows
        self._kept = (initial, best, (X_val, y_val, val_weight) if has_val else rows)
        self._start_loss = None             # the first batch's loss, before its step
        self._run_cache = None              # _train_run of this fit
        monitor = self._monitor = "val_loss" if has_val else "loss"
        no_improve = first = 0
        spent = False                       # a resumed fit whose patience had run out
        if resume is not None:
            no_improve = self._restore(resume, rng, initial, best)
            first = st.epoch = resume.epoch
            spent = cfg.early_stopping and no_improve >= cfg.patience
        t0 = self._t0 = time.perf_counter() - st.elapsed
        dropout_seed = int(cfg.seed) * 7919 + 17
        for cb in self.callbacks:
            cb.on_train_begin(st)
        compiled = self._runs_in_c()        # decided once, for the whole fit
        self.diag = model.diagnostics(diagnostics.measure_every(bs))
        try:
            for epoch in range(first, first if spent else int(cfg.epochs)):
                st.epoch = epoch
                lr = self.schedule.lr(epoch)
                st.lr = lr
                self.diag.reset()
                sums = _EpochSums(epoch, lr, dropout_seed)
                if compiled:
                    self._epoch_runs(rows, bs, rng, shuffle, sums)
                else:
                    for b, batch in enumerate(rows.batches(bs, rng, shuffle)):
                        self._one_batch(batch, b, sums)
                total, correct = sums.total, sums.correct
                # end of epoch
                if not math.isfinite(_kernels.sum_squares(model.params)):
                    self._diverged(epoch, nb - 1, None, lr)
                    raise _Stop()
                logs = {"epoch": epoch + 1, "loss": total / n, "lr": lr}
                if self.task.classification:
                    logs["accuracy"] = correct / n
                if has_val:
                    vl, vm = self.evaluate(X_val, y_val, val_weight)
                    logs["val_loss"] = vl
                    logs["val_accuracy" if self.task.classification else "val_r2"] = vm
                grown = self._grown(logs)
                if grown:
                    self._diverged(epoch, None, grown, lr)
                    raise _Stop()
                logs["diagnostics"] = diagnostics.epoch(model, self.diag, cfg.loss_scale)
                logs["time"] = time.perf_counter() - t0
                st.history.append(logs)
                current = logs[monitor]
                if current < st.best_loss - cfg.min_delta:
                    st.best_loss, st.best_epoch = current, epoch + 1
                    best[...] = model.params
                    no_improve = 0
                else:
                    no_improve += 1
                self.schedule.observe(epoch, current)
                if self.keep_fit_state:
                    st.fit_state = self._fit_state(epoch + 1, rng, initial, best,
                                                   no_improve)
                for cb in self.callbacks:
                    cb.on_epoch_end(st, logs)
                if cfg.early_stopping and no_improve >= cfg.patience:
                    self._stop_early(best)
                    break
                if st.stop:
                    raise _Stop()
            else:
                if spent:
                    self._stop_early(best)
                else:
                    st.stop_reason = "completed"
                    st.kept_epoch = len(st.history)
                    if cfg.early_stopping and cfg.restore_best:
                        model.params[...] = best
                        st.kept_epoch = st.best_epoch
        except _Stop:
            if not st.stop_reason:
                st.stop_reason = "stopped"
                st.message = "stopped by a callback"
            if st.stop_reason == "stopped" and st.best_epoch:
                model.params[...] = best
                st.kept_epoch = st.best_epoch
        except KeyboardInterrupt:
            st.stop_reason = "interrupted"
            if st.best_epoch:
                model.params[...] = best
                st.kept_epoch = st.best_epoch
                st.message = (f"interrupted in epoch {st.epoch + 1}; kept the weights of "
                              f"epoch {st.best_epoch}, the best by {monitor}")
            else:
                model.params[...] = initial
                st.message = "interrupted before the first epoch ended; kept the weights " \
                             "from before it"
        finally:
            # the compiled run points into this fit's buffers; it neither outlives the fit
            # nor travels with a pickled trainer; nor do the diagnostics' sums, which the
            # history holds
            self._run_cache = None
            self.diag = None
        st.elapsed = time.perf_counter() - t0
        for cb in self.callbacks:
            cb.on_train_end(st)
        return st

    def _stop_early(self, best):
        """End the fit as early stopping does: the best epoch's weights back (restore_best)."""
        st, cfg = self.state, self.cfg
        st.stop_reason = "early_stopping"
        st.message = f"no improvement in {self._monitor} for {cfg.patience} epochs"
        st.kept_epoch = len(st.history)
        if cfg.restore_best:
            st.message += f"; restored the weights of epoch {st.best_epoch}"
            self.model.params[...] = best
            st.kept_epoch = st.best_epoch

    # -------------------------------------------------------------- resuming

    def _fit_state(self, epoch, rng, initial, best, no_improve):
        """A FitState of this fit after `epoch` epochs (see FitState)."""
        st, opt = self.state, self.optimizer
        return FitState(
            epoch=epoch, step=st.step, params=self.model.params.copy(), best=best.copy(),
            initial=initial.copy(), optimizer_t=opt.t,
            optimizer_state=[a.copy() for a in opt.state],
            rng=rng.bit_generator.state, schedule=self.schedule.state(),
            best_epoch=st.best_epoch, best_loss=st.best_loss, no_improve=no_improve,
            start_loss=self._start_loss, history=list(st.history),
            elapsed=time.perf_counter() - self._t0)

    def _restore(self, resume, rng, initial, best):
        """Put a FitState back into this fit (its weights, optimizer, schedule, shuffle,
        counters and history); returns its no_improve. A TrainingError when it cannot be
        this network's and optimizer's."""
        model, opt, st = self.model, self.optimizer, self.state
        for name in ("params", "best", "initial"):
            a = getattr(resume, name)
            if a.shape != model.params.shape or a.dtype != model.params.dtype:
                raise TrainingError(f"the state to resume holds {name} of {a.dtype} "
                                    f"{a.shape}; this network has {model.params.dtype} "
                                    f"{model.params.shape}")
        held = resume.optimizer_state
        if len(held) != len(opt.state) or any(
                a.shape != b.shape or a.dtype != b.dtype for a, b in zip(held, opt.state)):
            raise TrainingError(f"the state to resume holds {len(held)} optimizer buffers; "
                                f"{self.cfg.optimizer} here keeps {len(opt.state)}")
        if resume.epoch < 0 or resume.epoch != len(resume.history):
            raise TrainingError(f"the state to resume is of epoch {resume.epoch} but holds "
                                f"{len(resume.history)} epochs of history")
        if resume.epoch > self.cfg.epochs:
            raise TrainingError(f"must be at least the {resume.epoch} epochs the run to "
                                f"resume has trained, got {self.cfg.epochs}",
                                setting="epochs")
        try:
            self.schedule.restore(resume.schedule)
            rng.bit_generator.state = resume.rng
        except (ValueError, TypeError, KeyError) as err:
            raise TrainingError(f"the state to resume cannot be restored: {err}") from None
        model.params[...] = resume.params
        best[...] = resume.best
        initial[...] = resume.initial
        for a, b in zip(opt.state, held):
            a[...] = b
        opt.t = int(resume.optimizer_t)
        st.step = int(resume.step)
        st.best_epoch, st.best_loss = int(resume.best_epoch), float(resume.best_loss)
        st.history = list(resume.history)
        st.elapsed = float(resume.elapsed)
        self._start_loss = resume.start_loss
        if self.keep_fit_state:
            st.fit_state = resume
        return int(resume.no_improve)

    # -------------------------------------------------------------- batches

    def _runs_in_c(self):
        """Whether an epoch's batches run in compiled runs (nc_train_batches) or one
        Python step at a time: the one place that chooses. The runs take the trainer's
        own step and the optimizers of the table; a subclass that changes the step, or
        compiled_runs set False, keeps the per-batch loop. fit asks once, at its start."""
        return (self.compiled_runs and type(self).step is _COMPILED_STEP
                and type(self.optimizer) in OPTIMIZERS.values()
                and self.optimizer.compiled() is not None)

    def _one_batch(self, batch, b, sums):
        """One step on the epoch's batch b (name -> array), then its sums, callbacks and
        the stop checks."""
        yb = batch["y"]
        loss = self.step(batch["dense"], yb, batch.get("sw"), sums.lr, sums.seed,
                         batch.get("codes"))
        if not math.isfinite(loss):
            self._diverged(sums.epoch, b, ("loss", loss), sums.lr)
            raise _Stop()
        if self._start_loss is None:
            self._start_loss = loss
        rows, correct = self._batch_counts(yb)
        sums.total += loss * rows
        sums.correct += correct
        self._batches_done(b + 1, loss, 1, sums)

    def _batch_counts(self, yb):
        """(rows, correct predictions) of the step just taken on targets yb."""
        if not self.task.classification:
            return len(yb), 0
        return len(yb), metrics.count_correct(yb, self.last_out, self.task.kind, self.loss)

    def _batches_done(self, batch, loss, count, sums):
        """Report the epoch's batches up to `batch` (count of them since the last report,
        the last one's loss) to the callbacks, then stop if one asked to."""
        st = self.state
        st.batch = batch
        if self.callbacks:
            logs = {"loss": loss, "batch": batch, "epoch": sums.epoch + 1, "batches": count}
            for cb in self.callbacks:
                cb.on_batch_end(st, logs)
        if st.stop:
            raise _Stop()

    def _run_buffers(self, bs, last, arrays):
        """Workspace, output and output gradient (None for the fused step) of the compiled
        runs over batches of bs rows, the last of them `last` rows: the model's own
        buffers for bs rows where they are large enough for both, and batch buffers for
        the gathered rows of each array."""
        model = self.model
        if self._fused:
            work, out = model.small_buffers(bs)
            dout = None
        else:
            work, out, dout = model.buffers(bs)
        need = model.workspace_bytes(last, fused=self._fused)
        if need > len(work):
            work = workspace(need)
        shapes = tuple((k, a.shape[1:], a.dtype.str) for k, a in sorted(arrays.items()))
        if self._gather is None or self._gather[0] != (bs, shapes):
            rows = {k: np.empty((bs,) + a.shape[1:], a.dtype) for k, a in arrays.items()}
            self._gather = ((bs, shapes), rows)
        return work, out, dout, self._gather[1]

    def _train_run(self, arrays, first, count, bs, gather, seed, keep):
        """The model's TrainRun (see MLP.train_run) over these arrays in this fit. With
        keep (rows in memory, the same arrays every epoch) it is made once per (arrays,
        first row, batches, batch size, gather buffers), so that an epoch of one small
        batch costs one call, not the buffers' making and checking again; a spilled
        file's windows are not kept, which would hold a second window's rows."""
        key = (id(arrays), first, count, bs, id(gather), seed)
        hit = self._run_cache
        if hit is not None and hit[0] == key and hit[1] is arrays and hit[2] is gather:
            return hit[3]
        n = len(arrays["y"])
        last = min(bs, n - first - (count - 1) * bs)
        work, out, dout, own = self._run_buffers(bs, last, arrays)
        g = own if gather is None else gather
        y = arrays["y"]
        t, labels = (None, y) if self._labels else (y, None)
        bufs = (g["dense"], g.get("codes"), None if self._labels else g["y"],
                g["y"] if self._labels else None, g.get("sw"))
        cfg = (self._loss_code, TASK_CODES[self.task.kind], self._fused,
               float(self.cfg.loss_scale), float(self.cfg.l2 or 0.0),
               float(self.cfg.clip_norm or 0.0), seed)
        run = self.model.train_run(self.grads, out, dout, work, arrays["dense"],
                                   arrays.get("codes"), t, labels, arrays.get("sw"), bufs,
                                   cfg, self.optimizer, bs, self.diag)
        # one entry, the last: the arrays and buffers held with the key keep their ids
        # theirs
        self._run_cache = (key, arrays, gather, run) if keep else None
        return run

    def _run(self, arrays, perm, first, count, base, bs, sums, gather=None, keep=False):
        """Batches 0..count-1 of arrays (taken in the order perm from position first) in
        compiled runs of about run_seconds each, the epoch's batch `base` onwards;
        callbacks, stop requests and signals are handled between runs. gather: the
        batch buffers (name -> bs rows) to gather into, else the trainer's own; keep:
        the same arrays come again (see _train_run)."""
        st, opt = self.state, self.optimizer
        run = self._train_run(arrays, first, count, bs, gather, sums.seed, keep)
        b = reported = 0
        while b < count:
            # training's first batch runs alone, so that its loss (taken before its step)
            # is the starting loss that divergence is measured against; it is reported
            # with the run after it
            end = b + 1 if self._start_loss is None else count
            b1, st.step, opt.t, sums.total, sums.correct, loss, diverged = run.run(
                perm, first, b, st.step, sums.total, sums.correct, end, sums.lr,
                self.run_seconds, opt.t)
            if diverged:
                self._diverged(sums.epoch, base + b1, ("loss", loss), sums.lr)
                raise _Stop()
            if self._start_loss is None:
                self._start_loss = loss
                if b1 < count:
                    b = b1
                    continue
            done, b = b1 - reported, b1
            reported = b
            self._batches_done(base + b, loss, done, sums)

    def _epoch_runs(self, rows, bs, rng, shuffle, sums):
        """One epoch in compiled runs. Rows in memory: one run over the epoch's
        permutation. Spilled rows: runs over each window's rows in the window's order;
        the rows a window leaves over start a batch that the next window fills, and that
        batch takes one Python step."""
        n = len(rows)
        nb = (n + bs - 1) // bs
        if not isinstance(rows, SpilledRows):
            perm = rng.permutation(n) if shuffle else None
            self._run(rows.arrays, perm, 0, nb, 0, bs, sums, keep=True)
            return
        carry = {k: np.empty((bs,) + s, d) for k, (d, s) in rows.spill.spec.items()}
        fill = b = 0
        for arrays, perm in rows.windows(rng, shuffle):
            size = len(arrays["y"])
            at = 0
            if fill:
                take = min(bs - fill, size)
                take_rows(arrays, perm, at, take, carry, fill)
                fill, at = fill + take, take
                if fill == bs:
                    self._one_batch(carry, b, sums)
                    fill, b = 0, b + 1
            full = (size - at) // bs
            if full:
                # the carried rows are all stepped: their buffers gather the run's
                self._run(arrays, perm, at, full, b, bs, sums, carry)
                at, b = at + full * bs, b + full
            if at < size:
                take_rows(arrays, perm, at, size - at, carry, 0)
                fill = size - at
        if fill:
            self._one_batch({k: a[:fill] for k, a in carry.items()}, b, sums)

    def _loss_on(self, rows):
        """The model's loss on the training rows, in eval mode."""
        if isinstance(rows, SpilledRows):
            return self._evaluate_spilled(rows)[0]
        arrays = rows.arrays
        x = arrays["dense"]
        if "codes" in arrays:
            x = Encoded(x, arrays["codes"])
        return self.evaluate(x, arrays["y"], arrays.get("sw"))[0]

    def _grown(self, logs):
        """("loss" or "val_loss", value) when that epoch-end loss is not finite or has
        grown past DIVERGENCE_FACTOR times the starting loss (the first batch's); else
        None."""
        start = self._start_loss
        for key in ("loss", "val_loss"):
            value = logs.get(key)
            if value is None:
                continue
            if not math.isfinite(value) or (start is not None and start > 0
                                             and value > DIVERGENCE_FACTOR * start):
                return key, value
        return None

    def _diverged(self, epoch, batch, what, lr):
        """Put back the weights of the best epoch and say why training stopped. The best
        epoch's weights are kept only when their loss (validation, else training) is
        below the untrained network's; else the untrained weights are put back and no
        epoch counts as usable. what is (name, value) of the loss that failed, or None
        when the weights became non-finite although every loss was finite (the check at
        the end of an epoch)."""
        st = self.state
        initial, best, rows = self._kept
        st.stop_reason = "diverged"
        self.model.params[...] = initial
        if isinstance(rows, tuple):
            # the untrained network's validation loss; the best epoch's is in best_loss
            start = self.evaluate(*rows)[0]
        else:
            # without validation rows, the training loss: the untrained network's, and
            # the best epoch's weights', which need not have the lowest mean loss over
            # the epoch's batches that made that epoch the best
            start = self._loss_on(rows)
            if st.best_epoch:
                self.model.params[...] = best
                st.best_loss = self._loss_on(rows)
        self.model.params[...] = best if st.best_epoch else initial
        if st.best_epoch and not st.best_loss < start:
            st.best_epoch, st.best_loss = 0, math.inf
            self.model.params[...] = initial
        st.kept_epoch = st.best_epoch
        if what is None:
            cause = "the weights became non-finite"
        else:
            name = "the validation loss" if what[0] == "val_loss" else "the loss"
            if math.isfinite(what[1]):
                cause = (f"{name} grew to {what[1]:.4g}, more than "
                         f"{DIVERGENCE_FACTOR:,.0f} times the starting loss "
                         f"{self._start_loss:.4g}")
            else:
                cause = f"{name} became {what[1]}"
        where = f"epoch {epoch + 1}" if batch is None else \
            f"epoch {epoch + 1}, batch {batch + 1}"
        if st.best_epoch:
            measure = self._monitor if isinstance(rows, tuple) else "training loss"
            kept = f"kept the weights of epoch {st.best_epoch} ({measure} {st.best_loss:.4g})"
        else:
            kept = ("no epoch ended" if not st.history else
                    "no epoch ended with weights better than the untrained network's")
        opt = self.cfg.optimizer
        low, high = self.optimizer.usual_lr
        hint = f"the learning rate {lr:g} is likely too large for {opt}"
        if lr > high:
            hint += f", which usually trains at {low:g} to {high:g}"
        hint += f": try {min(lr / 10, high):g}"
        if not self.cfg.clip_norm:
            hint += ", or clip the gradient norm (at 1.0, say)"
        st.message = f"training diverged in {where}: {cause}; {kept}; {hint}"


# A loss at the end of an epoch (training or validation) more than this many times the
# first batch's loss counts as a divergence, as a non-finite one does: no sound run grows
# its loss a thousandfold, while a run that does is on its way to overflow.
DIVERGENCE_FACTOR = 1000.0


# the step the compiled runs reproduce; a trainer whose step is another (a subclass's, or
# one patched in) takes its batches one Python step at a time
_COMPILED_STEP = Trainer.step


class _Stop(Exception):
    pass


class _EpochSums:
    """An epoch's settings and running sums, shared by its batches."""

    def __init__(self, epoch, lr, seed):
        self.epoch, self.lr, self.seed = epoch, lr, seed
        self.total = 0.0
        self.correct = 0
