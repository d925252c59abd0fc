"""A trained model as the command line uses it: the network, the preprocessing that turns
CSV rows into its inputs, the task, loss and output reading, and the training history and
settings, saved together as one model file (docs/model-format.md)."""
import datetime
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from neuralcli import _kernels, head
from neuralcli._version import __version__
from neuralcli.errors import DataError
from neuralcli.head import OutputSpec, output_spec
from neuralcli.network import MLP, Encoded, activation_name, n_params, resolve_dtype
from neuralcli.preprocess import MAX_CATEGORIES, Preprocessor, decide_task, summarize_notes
from neuralcli.training import Task, TrainConfig, Trainer, TrainingError, validation_split
from neuralcli.writer import number_text


@dataclass
class Settings:
    """Everything that shapes a training run; saved with the model."""
    hidden: list = field(default_factory=lambda: [64, 64])
    activation: str = "relu"
    loss: str = "auto"
    optimizer: str = "adam"
    lr: float = 0.003
    epochs: int = 300
    batch_size: int = 32
    val_split: float = 0.2
    early_stopping: bool = True
    patience: int = 30
    schedule: str = "constant"
    weight_decay: float = 0.0
    dropout: float = 0.0
    clip_norm: float = 0.0
    class_weight: object = None       # None, "balanced" or {label: weight}
    seed: int = 0
    dtype: str = "float32"
    momentum: float = 0.9             # for sgd

    def validate(self):
        """The one check of these settings' ranges, which fit and fit_file make first (and
        a front end may make before it opens a file): a TrainingError naming the first
        setting out of its range (its `setting`). The network's and the split's are
        checked here, the trainer's by TrainConfig.validate."""
        if not self.hidden:
            raise TrainingError("must hold at least one layer width", setting="hidden")
        for h in self.hidden:
            if int(h) < 1:
                raise TrainingError(f"must hold layer widths of at least 1, got {h}",
                                    setting="hidden")
        activation_name(self.activation)
        resolve_dtype(self.dtype)
        for name in ("val_split", "dropout"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise TrainingError(f"must lie in [0, 1), got {value}", setting=name)
        self.train_config().validate()

    def train_config(self, has_val=True):
        """The trainer's settings; early stopping needs validation rows (has_val)."""
        return TrainConfig(
            epochs=int(self.epochs), batch_size=int(self.batch_size),
            optimizer=self.optimizer, lr=float(self.lr),
            optimizer_options=({"momentum": self.momentum}
                               if self.optimizer == "sgd" else {}),
            weight_decay=float(self.weight_decay), schedule=self.schedule,
            clip_norm=float(self.clip_norm or 0.0),
            early_stopping=bool(self.early_stopping and has_val),
            patience=int(self.patience), seed=int(self.seed))


class TrainedModel:
    def __init__(self, net, pre, spec, *, settings, history=(), info=None):
        self.net = net
        self.pre = pre
        self.spec = spec
        self.settings = settings
        self.history = list(history)
        self.info = dict(info or {})

    @property
    def task(self):
        return self.pre.task

    # -------------------------------------------------------------- training

    @classmethod
    def fit(cls, table, settings, *, target=None, drop=(), impute=None, task="auto",
            val_table=None, callbacks=(), threads=None, max_categories=MAX_CATEGORIES,
            keep=(), checkpoint=None, resume=None, comm=None):
        """Decide the task on the whole table, split off validation rows (stratified by
        class), fit the preprocessing once on the training rows and train a network;
        returns (model, TrainState). Interruption and divergence end training cleanly:
        the state says why, and the model holds the weights kept.

        checkpoint: a checkpoint.Plan to write checkpoints by; resume: a
        checkpoint.Checkpoint of a run on the same data and settings to continue. comm (a
        distributed.Comm): train data-parallel, this rank encoding only its block of the
        training and validation rows (rank 0 alone writes checkpoints)."""
        settings.validate()
        dtype = resolve_dtype(settings.dtype)
        decision = decide_task(table, target, task)
        train_idx = None
        val_idx = None if val_table is not None else \
            _validation_rows(decision, table.n_rows, settings)
        if val_idx is not None:
            keep_rows = np.ones(table.n_rows, dtype=bool)
            keep_rows[val_idx] = False
            train_idx = np.flatnonzero(keep_rows)
        pre = Preprocessor().fit(table, rows=train_idx, target=decision.target, drop=drop,
                                 impute=impute, task=decision,
                                 max_categories=max_categories, keep=keep)
        notes = summarize_notes(pre.fit_notes)
        # the training and validation rows encoded straight from the columns (no copy of
        # the whole file's inputs); errors name the file's own rows
        filled = {}
        if comm is not None:
            all_train = np.arange(table.n_rows) if train_idx is None else train_idx
            y_all = pre.target_of(table, rows=all_train)
            lo, hi = comm.block(len(all_train))
            train_idx = all_train[lo:hi]
            if val_idx is not None:
                lo, hi = comm.block(len(val_idx))
                val_idx = val_idx[lo:hi]

        def encode():
            X = pre.transform(table, rows=train_idx, dtype=dtype, training=True)
            _gather_notes(pre, notes, filled)
            y_idx = pre.target_of(table, rows=train_idx)
            n_targets = 1 if y_idx.ndim == 1 else y_idx.shape[1]
            spec = output_spec(pre.task, pre.n_classes if pre.classes is not None else 0,
                               n_targets, settings.loss)
            Xv = yv = None
            if val_idx is not None:
                Xv = pre.transform(table, rows=val_idx, dtype=dtype, training=True)
                _gather_notes(pre, notes, filled)
                yv = head.encode_targets(pre.target_of(table, rows=val_idx), spec,
                                         pre.task)
            elif val_table is not None and val_table.n_rows:
                rows = None
                if comm is not None:
                    rows = np.arange(*comm.block(val_table.n_rows))
                Xv = pre.transform(val_table, rows=rows, dtype=dtype)
                notes.extend(f"validation: {n}" for n in pre.last_notes)
                yv = head.encode_targets(pre.target_of(val_table, rows=rows), spec,
                                         pre.task)
            return X, y_idx, spec, Xv, yv

        # with comm, a bad cell in one rank's rows is every rank's error (see fit_file)
        X, y_idx, spec, Xv, yv = _agreed(comm, encode)
        notes += pre.fill_notes(_all_filled(comm, filled))
        counts = None if pre.task == "regression" else \
            np.bincount(y_idx if comm is None else y_all, minlength=pre.n_classes)
        weights = _class_weights(settings.class_weight, pre, counts)
        y = head.encode_targets(y_idx, spec, pre.task)
        sw = None if weights is None else weights[y_idx]
        return cls._train(pre, spec, settings, (X, y, sw), None if Xv is None else
                          (Xv, yv, None), notes=notes, path=table.path, counts=counts,
                          callbacks=callbacks, threads=threads, checkpoint=checkpoint,
                          resume=resume, comm=comm)

    @classmethod
    def fit_file(cls, scan, settings, *, target=None, drop=(), impute=None, task="auto",
                 val_scan=None, callbacks=(), threads=None, max_categories=MAX_CATEGORIES,
                 keep=(), memory_limit=None, spill_dir=None, announce=None, passes=None,
                 checkpoint=None, resume=None, comm=None, ranges=True):
        """Train on a CSV file read in chunks (a reader.Scan, see neuralcli.stream): the
        task and the validation rows from the target column, the preprocessing fitted
        chunk by chunk on the training rows, then the rows encoded into memory, or into a
        spill file read a window at a time when they would take more than `memory_limit`
        bytes. The chunks stay in memory between passes while they fit the limit;
        otherwise each pass reads the file again. The same model as `fit` on the whole table,
        to the rounding of the statistics. (model, TrainState). checkpoint and resume as
        for fit.

        announce(), when given, is called once the file's rows are counted (after the
        first pass); passes(label), when given, is a context manager around each pass
        that yields a progress(bytes_done) callback.

        comm (a distributed.Comm): train data-parallel. Each rank parses only the records
        of its byte range of the file (stream.Shards; with `ranges` False, or a file that
        is not plain bytes on disk, every rank reads the whole file's passes), the
        preprocessing's statistics are merged across the ranks, so that every rank
        decides the same task, validation rows and preprocessing as one process reading
        the whole file; each rank then encodes and holds only its block of the training
        and of the validation rows (see neuralcli.distributed); the rows are never
        spilled."""
        from neuralcli import stream

        settings.validate()
        dtype = resolve_dtype(settings.dtype)
        shards = None
        if comm is not None and ranges and scan.src.plain:
            # each rank parses only the records of its byte range of the file
            shards = stream.Shards(scan, comm, target, passes)
            runs, targets = shards.runs, shards.targets
        else:
            runs = stream.Passes(scan, memory_limit, passes)
            targets = stream.target_table(runs, target)
        if announce is not None:
            announce()
        decision = decide_task(targets, targets.columns[0], task)
        n = targets.n_rows
        is_val = np.zeros(n, dtype=bool)
        if val_scan is None:
            va = _validation_rows(decision, n, settings)
            if va is not None:
                is_val[va] = True
        del targets

        def rows_of(chunk, val, take=None):
            if take is not None:
                part = take[val][chunk.first_row:chunk.first_row + chunk.n_rows]
                return np.flatnonzero(part)
            part = is_val[chunk.first_row:chunk.first_row + chunk.n_rows]
            return np.flatnonzero(part if val else ~part)

        merged = {}
        if shards is not None:
            train_rows = [(chunk, rows_of(chunk, False)) for chunk in runs.kept]
            merged = dict(gather=lambda fn: comm.allgather(_agreed(comm, fn)),
                          last=shards.last,
                          starts=shards.starts(train_rows, range(len(scan.names))))
        pre = Preprocessor().fit_chunks(
            ((chunk, rows_of(chunk, False)) for chunk in runs.again("pass 2 of 3")),
            decision=decision, drop=drop, impute=impute, max_categories=max_categories,
            keep=keep, **merged)
        notes = summarize_notes(pre.fit_notes)
        n_val = int(is_val.sum())
        n_train = n - n_val
        counts = None
        if pre.task != "regression":
            counts = np.bincount(decision.codes[~is_val], minlength=pre.n_classes)
        spec = output_spec(pre.task, pre.n_classes if pre.classes is not None else 0, 1,
                           settings.loss)
        weights = _class_weights(settings.class_weight, pre, counts)
        weighted = weights is not None
        need = stream.encoded_bytes(n, pre, spec, dtype, weighted)
        spill = memory_limit is not None and need > memory_limit
        take = None
        if shards is not None:
            # this rank's rows of each split, moved to its block once encoded
            n_val = sum(len(rows_of(chunk, True)) for chunk in runs.kept)
            n_train = sum(chunk.n_rows for chunk in runs.kept) - n_val
            spill = False
        elif comm is not None:
            take = _blocks(comm, is_val)
            n_train, n_val = int(take[False].sum()), int(take[True].sum())
            spill = False
        window = None if not spill else max(1 << 20, memory_limit // 4)
        sinks = [stream.Rows(k, pre, spec, dtype, weighted, spill=spill,
                             window_bytes=window, directory=spill_dir)
                 for k in (n_train, n_val)]
        filled = {}

        def encode():
            for chunk in runs.again("pass 3 of 3", consume=True):
                for sink, val in zip(sinks, (False, True)):
                    rows = rows_of(chunk, val, take)
                    if not len(rows):
                        continue
                    X = pre.transform(chunk, rows=rows, dtype=dtype, training=True,
                                      out=sink.dense_slot(len(rows)))
                    _gather_notes(pre, notes, filled)
                    y_idx = pre.target_of(chunk, rows=rows)
                    sink.add(X, head.encode_targets(y_idx, spec, pre.task),
                             None if weights is None else weights[y_idx])

        try:
            # with comm, a rank's rows may hold a bad cell that no other rank reads: every
            # rank hears of it before any waits for the others in training
            _agreed(comm, encode)
            notes += pre.fill_notes(_all_filled(comm, filled))
            if spill:
                notes.append(f"the encoded rows take {_size(need)}, more than the memory "
                             f"limit of {_size(memory_limit)}: training reads them from a "
                             f"temporary file, {_size(window)} at a time")
            val = None
            if val_scan is not None:
                val = _agreed(comm, lambda: _val_rows(val_scan, pre, spec, dtype, notes,
                                                      comm))
            elif int(is_val.sum()):
                val = sinks[1].data()
            train = sinks[0].data()
            if shards is not None:
                train = _rebalance(comm, train)
                if val_scan is None and val is not None:
                    val = _rebalance(comm, val)
            return cls._train(pre, spec, settings, train, val, notes=notes,
                              path=scan.path, counts=counts, callbacks=callbacks,
                              threads=threads, checkpoint=checkpoint, resume=resume,
                              comm=comm)
        finally:
            for sink in sinks:
                sink.close()

    @classmethod
    def _train(cls, pre, spec, settings, train, val, *, notes, path, counts, callbacks,
               threads, checkpoint=None, resume=None, comm=None):
        """Build the network and train it on `train` (X, y, row weights) or a SpilledRows,
        validating on `val` likewise (or None); the model with its history and info.
        Checkpoints go by the Plan `checkpoint`; `resume` (a Checkpoint) is first checked
        against this run, then continued."""
        hidden = [int(h) for h in settings.hidden]
        sizes = [pre.n_features] + hidden + [spec.n_out]
        _check_size(sizes, settings.dtype)
        acts = [activation_name(settings.activation)] * len(hidden) + [spec.out_act]
        net = MLP(sizes, acts, dropout=[settings.dropout] * len(hidden) + [0.0],
                  dtype=settings.dtype, seed=settings.seed, n_dense=pre.n_dense)
        kind = pre.task
        args = train if isinstance(train, tuple) else (train,)
        val_args = () if val is None else (val if isinstance(val, tuple) else
                                           (val, None, None))
        n_train = len(args[0])
        n_val = 0 if val is None else int(len(val_args[0]))
        if comm is not None:
            # the whole run's rows, as one process counts them
            n_train, n_val = (sum(k) for k in zip(*comm.allgather((n_train, n_val))))
        if resume is not None:
            resume.check(pre, spec, sizes, (n_train, n_val))
        prior = None
        if counts is not None:  # the majority baseline of `eval` uses the training prior
            prior = (counts / counts.sum()).tolist()
        callbacks = list(callbacks)
        writer = None
        if checkpoint is not None and (comm is None or comm.rank == 0):
            from neuralcli import checkpoint as checkpoints

            def write(fs, kept):
                info = cls._info(pre, path, n_train, n_val, notes, prior, threads or used,
                                 val is not None, fs.best_epoch, "checkpoint",
                                 f"checkpoint after epoch {fs.epoch}", fs.elapsed,
                                 fs.epoch, {})
                copy = MLP(net.sizes, net.activations, dropout=net.dropout,
                           dtype=net.dtype, act_params=net.act_params, init=False,
                           n_dense=net.n_dense)
                copy.params[...] = net.params if kept is None else kept
                model = cls(copy, pre, spec, settings=settings, history=fs.history,
                            info=info)
                model.save(checkpoint.path,
                           checkpoint=checkpoints.contents(fs, checkpoint.run))

            writer = checkpoints.Writer(checkpoint.path, checkpoint.every, write)
            callbacks.insert(0, writer)
        config = settings.train_config(has_val=val is not None)
        if comm is None:
            trainer = Trainer(net, Task(kind, spec.loss, spec.n_out), config, callbacks)
        else:
            from neuralcli.distributed import DistributedTrainer

            trainer = DistributedTrainer(net, Task(kind, spec.loss, spec.n_out), config,
                                         callbacks, comm=comm)
        trainer.keep_fit_state = writer is not None
        with head.threads(threads or None) as used:
            state = trainer.fit(*args, *((None,) * (3 - len(args))), *val_args,
                                resume=None if resume is None else resume.state)
            # figures of the weights kept (the best epoch's, after early stopping)
            final = {}
            if state.history:
                final["train_loss"], final["train_metric"] = trainer.evaluate(*args)
                if val is not None:
                    final["val_loss"], final["val_metric"] = trainer.evaluate(
                        *val_args[:1], *val_args[1:2])
        final["metric"] = "r2" if kind == "regression" else "accuracy"
        info = cls._info(pre, path, n_train, n_val, notes, prior, threads or used,
                         val is not None, state.best_epoch, state.stop_reason,
                         state.message, state.elapsed, len(state.history), final)
        model = cls(net, pre, spec, settings=settings, history=state.history, info=info)
        return model, state

    @staticmethod
    def _info(pre, path, n_train, n_val, notes, prior, threads, has_val, best_epoch,
              stop_reason, message, elapsed, epochs, final):
        """The model's `info`: the run's data, rows, outcome and speed."""
        samples = epochs * n_train
        return {
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "library_version": __version__,
            "data": str(path), "rows_train": int(n_train), "rows_val": int(n_val),
            "task_reason": pre.task_reason,
            "best_epoch": int(best_epoch), "stop_reason": stop_reason,
            "message": message, "elapsed_s": float(elapsed),
            "samples_per_s": float(samples / elapsed) if elapsed > 0 else 0.0,
            "threads": int(threads), "isa": _kernels.get_isa(),
            "monitor": "val_loss" if has_val else "loss", "notes": notes,
            "final": final, "class_prior": prior,
            "encodings": [{"column": c, "kind": k, "encoding": h}
                          for c, k, h in pre.describe()],
        }

    # -------------------------------------------------------------- prediction

    def encode_inputs(self, table, *, rows=None, drift=None):
        """The network's inputs (Encoded, in its dtype) for the rows of a table (or `rows`
        of it), measured by the drift meter when given (see drift_meter). Notes are in
        self.pre.last_notes."""
        return self.pre.transform(table, rows=rows, dtype=self.net.dtype, drift=drift)

    @property
    def has_drift_statistics(self):
        """Whether the model file keeps the training statistics drift needs."""
        return self.pre.has_drift_statistics

    def drift_meter(self, strict=False):
        """A neuralcli.drift.DriftMeter to give predict_table (or encode_inputs) for
        every table or chunk of a file; its report() is then the file's drift against
        the training rows. strict: the first unseen category or value well outside the
        training range is a DataError. A DataError when the model keeps no training
        statistics (see has_drift_statistics)."""
        return self.pre.drift_meter(strict=strict)

    def encode_targets(self, y):
        """Targets as Preprocessor.target_of gives them, in the form the loss kernel
        takes (see neuralcli.head.encode_targets)."""
        return head.encode_targets(y, self.spec, self.task)

    def outputs(self, X):
        """The network's raw outputs (float64) for inputs X (Encoded, or dense rows)."""
        return self.net.forward(X).astype(np.float64)

    def probabilities(self, out):
        """Class probabilities (N, K) from raw outputs; None for regression."""
        return head.probabilities(out, self.spec, self.task)

    def predict_table(self, table, *, rows=None, drift=None):
        """(X, outputs, probabilities or None, predictions) for a table (or `rows` of it);
        X is Encoded; predictions are class indices or values in the target's units.
        drift: a DriftMeter that measures the rows. Notes are in self.pre.last_notes."""
        X = self.encode_inputs(table, rows=rows, drift=drift)
        return (X,) + self.predict_inputs(X)

    def predict_inputs(self, X):
        """(outputs, probabilities or None, predictions) for encoded inputs X, as
        predict_table gives them."""
        out = self.outputs(X)
        proba = self.probabilities(out)
        if proba is not None:
            pred = proba.argmax(axis=1)
        else:
            pred = self.pre.inverse_target(out[:, 0] if out.shape[1] == 1 else out)
        return out, proba, pred

    def prediction_columns(self):
        """The names of the columns prediction_rows gives: predicted_<target> and, for a
        classifier, p_<class> per class; predicted_<target>_1.. for several targets."""
        target = self.pre.target
        if self.task != "regression":
            return [f"predicted_{target}"] + [f"p_{n}" for n in self.pre.class_names]
        if self.spec.n_out > 1:
            return [f"predicted_{target}_{k + 1}" for k in range(self.spec.n_out)]
        return [f"predicted_{target}"]

    def prediction_rows(self, table, *, drift=None):
        """The predictions for every row of a table as the text a CSV of them holds, one
        list per row in the order of prediction_columns(): the class's name and one
        probability per class, or the predicted values in the target's units (numbers as
        their shortest exact text). drift: as for predict_table. Notes are in
        self.pre.last_notes."""
        _, _, proba, pred = self.predict_table(table, drift=drift)
        if proba is not None:
            return [[label] + [number_text(float(p)) for p in row]
                    for label, row in zip(self.pre.label_names(pred), proba.tolist())]
        return [[number_text(float(v)) for v in row]
                for row in pred.reshape(len(pred), -1).tolist()]

    # -------------------------------------------------------------- persistence

    def save(self, path, *, checkpoint=None):
        """Write the model file; checkpoint: (meta.checkpoint, arrays) of the training
        state a checkpoint adds (see neuralcli.checkpoint.contents)."""
        from neuralcli import persist

        pre_meta, arrays = self.pre.to_meta()
        meta = {
            "kind": "cli", "task": self.task, "spec": asdict(self.spec),
            "preprocessing": pre_meta, "settings": _plain(asdict(self.settings)),
            "history": [_plain(h) for h in self.history], "info": _plain(self.info),
        }
        if checkpoint is not None:
            meta["checkpoint"], more = checkpoint
            arrays = {**arrays, **more}
        persist.save(path, self.net, meta=meta, arrays=arrays)

    @classmethod
    def load(cls, path):
        return cls.read(path)[1]

    @classmethod
    def read(cls, path):
        """(persist.SavedModel, model) of a model file: the file as read, and the model."""
        from neuralcli import persist

        saved = persist.load(path)
        meta = saved.meta
        if meta.get("kind") != "cli":
            raise persist.ModelFileError(
                f"{path}: this model file holds an estimator of the Python API "
                f"({meta.get('estimator', 'MLPClassifier')}), not a command-line model; "
                f"load it with {meta.get('estimator', 'MLPClassifier')}.load()")
        try:
            pre = Preprocessor.from_meta(meta["preprocessing"], saved.arrays)
            spec = OutputSpec(**meta["spec"])
            raw = dict(meta["settings"])
            known = Settings.__dataclass_fields__
            settings = Settings(**{k: v for k, v in raw.items() if k in known})
        except (KeyError, TypeError) as err:
            raise persist.ModelFileError(f"{path}: the model's description is incomplete "
                                         f"({err}); retrain the model") from None
        except DataError as err:
            # a damaged preprocessing record: said of the file, as every other fault of it
            raise persist.ModelFileError(f"{path}: {err}") from None
        if spec.n_out != saved.model.sizes[-1] or pre.n_features != saved.model.sizes[0]:
            raise persist.ModelFileError(f"{path}: the network's shape does not match its "
                                         f"preprocessing; the file is inconsistent")
        if pre.legacy_order is not None:
            # a format-1 file: its first layer's rows follow the old interleaved layout
            w = saved.model.weights[0]
            w[...] = w[pre.legacy_order].copy()
        net = saved.model
        if net.n_dense != pre.n_dense:
            # the preprocessing decides which first-layer rows take codes (a format-1 file
            # records no split: its network reads one-hot rows)
            net = MLP.from_weights(net.weights, net.biases, net.activations, dtype=net.dtype,
                                   dropout=net.dropout, act_params=net.act_params,
                                   n_dense=pre.n_dense)
        model = cls(net, pre, spec, settings=settings,
                    history=meta.get("history", []), info=meta.get("info", {}))
        model.info.setdefault("library_version", saved.version)
        return saved, model


def _check_size(sizes, dtype):
    """Refuse a network whose parameters, gradients and optimizer state cannot fit in
    this machine's memory, before allocating any of it."""
    import os

    params = n_params(sizes)
    need = params * resolve_dtype(dtype).itemsize * 4  # weights, gradients, 2 Adam slots
    try:
        have = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return
    if need > 0.8 * have:
        raise TrainingError(f"a network of {params:,} parameters needs about "
                            f"{need / 2**30:.1f} GiB for its weights, gradients and optimizer "
                            f"state, more than this machine's {have / 2**30:.1f} GiB; "
                            f"use smaller --hidden layers")


def _gather_notes(pre, notes, filled):
    """Add the notes of the transform just run to `notes`, once each, and its filled
    cells to `filled` ({column: count}), to be said once for all the rows."""
    fills = set(pre.fill_notes(pre.last_filled))
    notes += [n for n in pre.last_notes if n not in fills and n not in notes]
    for name, k in pre.last_filled.items():
        filled[name] = filled.get(name, 0) + k


def _size(n):
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{int(n)} bytes"


def _val_rows(scan, pre, spec, dtype, notes, comm=None):
    """(X, y, None) of a separate validation file, read whole (this rank's block of its
    rows, with comm)."""
    table = scan.read()
    rows = None if comm is None else np.arange(*comm.block(table.n_rows))
    Xv = pre.transform(table, rows=rows, dtype=dtype)
    notes += [f"validation: {n}" for n in pre.last_notes]
    return Xv, head.encode_targets(pre.target_of(table, rows=rows), spec, pre.task), None


def _agreed(comm, fn):
    """fn(), its failure on any rank of comm every rank's (distributed.agreed)."""
    if comm is None:
        return fn()
    from neuralcli.distributed import agreed

    return agreed(comm, fn)


def _blocks(comm, is_val):
    """{False: training rows, True: validation rows} this rank holds, as masks over the
    file's rows: its block (distributed.Comm.block) of each split, by the split's own
    row order."""
    take = {}
    for val in (False, True):
        mask = is_val if val else ~is_val
        rows = np.flatnonzero(mask)
        lo, hi = comm.block(len(rows))
        own = np.zeros(len(is_val), dtype=bool)
        own[rows[lo:hi]] = True
        take[val] = own
    return take


def _rebalance(comm, data):
    """(X, y, sw) of this rank's rows of a split, as read from its byte range, moved so
    that each rank holds its block of the split (distributed.Comm.block), the blocks in
    rank order: the rows every rank would hold had each read the whole file."""
    X, y, sw = data
    arrays = {"y": y}
    if isinstance(X, Encoded):
        arrays["dense"], arrays["codes"] = X.dense, X.codes
    else:
        arrays["dense"] = X
    if sw is not None:
        arrays["sw"] = sw
    counts = comm.allgather(len(y))
    first, total = sum(counts[:comm.rank]), sum(counts)
    n = len(y)
    sends = []
    for r in range(comm.size):
        lo, hi = r * total // comm.size, (r + 1) * total // comm.size
        a, b = max(lo, first), min(hi, first + n)
        mine = slice(a - first, max(a, b) - first)
        sends.append({k: v[mine] for k, v in arrays.items()})
    got = comm.alltoall(sends)
    out = {k: np.concatenate([g[k] for g in got]) for k in arrays}
    X = Encoded(out["dense"], out["codes"]) if "codes" in out else out["dense"]
    return X, out["y"], out.get("sw")


def _all_filled(comm, filled):
    """The filled cells of every rank's rows ({column: count}), summed; this rank's
    without comm."""
    if comm is None:
        return filled
    total = {}
    for part in comm.allgather(filled):
        for name, k in part.items():
            total[name] = total.get(name, 0) + k
    return total


def _validation_rows(decision, n, settings):
    """The held-out rows of n (stratified by class), or None without a split."""
    if settings.val_split <= 0:
        return None
    strata = None if decision.task == "regression" else decision.codes
    tr, va = validation_split(n, settings.val_split, settings.seed, strata)
    return va if len(va) and len(tr) else None


def _class_weights(spec, pre, counts):
    """Per-class weights from --class-weight ('balanced' or {label: weight}) and the
    training rows' class counts, or None."""
    if spec in (None, "", "none"):
        return None
    if pre.task == "regression":
        raise TrainingError("class weights apply to classification, not regression; leave "
                            "out --class-weight, or pass --task binary or multiclass if the "
                            "target is a class label")
    k = pre.n_classes
    if spec == "balanced":
        weights = head.balanced_class_weights(counts)
    else:
        weights = np.ones(k)
        names = {str(n): i for i, n in enumerate(pre.class_names)}
        for label, w in dict(spec).items():
            if str(label) not in names:
                raise TrainingError(f"--class-weight names {label!r}, which is not a class; "
                                    f"the classes are {', '.join(pre.class_names)}")
            if not (float(w) >= 0 and math.isfinite(float(w))):
                raise TrainingError(f"class weight of {label!r} must be >= 0, got {w}")
            weights[names[str(label)]] = float(w)
    return weights


def _plain(obj):
    """JSON-able copies of settings and history (numpy scalars to Python numbers)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj

