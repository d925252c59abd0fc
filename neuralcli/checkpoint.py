"""Checkpoints of a command-line training run. A checkpoint is a command-line model file
(docs/model-format.md) whose network holds the weights the run would keep if it ended
there, so `eval` and `predict` take it as they take any model; its `meta.checkpoint` and
`checkpoint.*` arrays add the state (training.FitState) that continues the run to the
weights and history of a run that was never stopped."""
import json
from dataclasses import dataclass, field

import numpy as np

from neuralcli import persist
from neuralcli.training import Callback, FitState, TrainingError

FORMAT = 1                          # meta.checkpoint.format
PREFIX = "checkpoint."              # the names of the arrays a checkpoint adds
_WEIGHTS = ("params", "best", "initial")


def contents(fit_state, run):
    """(meta.checkpoint, arrays) of a FitState; run is the front end's JSON-able record of
    how the run was started (its data and options), kept as it is."""
    fs = fit_state
    meta = {
        "format": FORMAT, "epoch": int(fs.epoch), "step": int(fs.step),
        "optimizer_t": int(fs.optimizer_t), "optimizer_slots": len(fs.optimizer_state),
        "rng": fs.rng, "schedule": fs.schedule, "best_epoch": int(fs.best_epoch),
        "best_loss": float(fs.best_loss), "no_improve": int(fs.no_improve),
        "start_loss": None if fs.start_loss is None else float(fs.start_loss),
        "elapsed": float(fs.elapsed), "run": run,
    }
    arrays = {PREFIX + name: getattr(fs, name) for name in _WEIGHTS}
    for i, a in enumerate(fs.optimizer_state):
        arrays[f"{PREFIX}optimizer.{i}"] = a
    return meta, arrays


@dataclass
class Plan:
    """Where a run writes its checkpoints and how often (every `every` epochs), and the
    front end's record of how the run was started, stored with them."""
    path: str
    every: int = 1
    run: dict = field(default_factory=dict)


class Checkpoint:
    """A checkpoint read back: `model` (a model.TrainedModel), `state` (the FitState to
    resume), `run` (the front end's record) and `path`."""

    def __init__(self, path, model, state, run):
        self.path, self.model, self.state, self.run = path, model, state, run

    @classmethod
    def read(cls, path):
        """Read a checkpoint; a ModelFileError (one line naming the file) when the file is
        not a model file, or a model file without the state to resume."""
        from neuralcli.model import TrainedModel

        saved, model = TrainedModel.read(path)
        record = saved.meta.get("checkpoint")
        if record is None:
            raise persist.ModelFileError(
                f"{path}: a model file without training state, not a checkpoint; "
                f"checkpoints are written by train --checkpoint")
        fail = persist.ModelFileError
        try:
            if record.get("format") != FORMAT:
                raise fail(f"{path}: checkpoint format {record.get('format')!r}; this "
                           f"neuralcli reads format {FORMAT}")
            arrays = saved.arrays
            slots = record["optimizer_slots"]
            state = FitState(
                epoch=_count(record["epoch"]), step=_count(record["step"]),
                params=arrays[PREFIX + "params"], best=arrays[PREFIX + "best"],
                initial=arrays[PREFIX + "initial"],
                optimizer_t=_count(record["optimizer_t"]),
                optimizer_state=[arrays[f"{PREFIX}optimizer.{i}"]
                                 for i in range(_count(slots))],
                rng=dict(record["rng"]), schedule=dict(record["schedule"]),
                best_epoch=_count(record["best_epoch"]),
                best_loss=float(record["best_loss"]),
                no_improve=_count(record["no_improve"]),
                start_loss=(None if record["start_loss"] is None
                            else float(record["start_loss"])),
                history=list(model.history), elapsed=float(record["elapsed"]))
            run = dict(record["run"])
        except fail:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise fail(f"{path}: the checkpoint's training state is incomplete "
                       f"({type(err).__name__}: {err})") from None
        want = saved.model.params
        for a in (state.params, state.best, state.initial, *state.optimizer_state):
            if a.shape != want.shape or a.dtype != want.dtype:
                raise fail(f"{path}: the checkpoint's training state holds {a.dtype} "
                           f"{list(a.shape)} arrays for a network of {want.dtype} "
                           f"[{want.size}]; the file is inconsistent")
        if state.epoch != len(state.history) or not 0 <= state.best_epoch <= state.epoch:
            raise fail(f"{path}: the checkpoint is of epoch {state.epoch} but holds "
                       f"{len(state.history)} epochs of history; the file is inconsistent")
        return cls(path, model, state, run)

    def check(self, pre, spec, sizes, rows):
        """Refuse, with a TrainingError of one line, to resume on a run whose data,
        task or network differ from the checkpoint's: pre the preprocessing fitted on the
        data now, spec its output, sizes the network's layer sizes, rows (training rows,
        validation rows)."""
        old = self.model
        where = f"the checkpoint {self.path}"
        if pre.target != old.pre.target:
            raise TrainingError(f"the target is {pre.target!r}; {where} was trained on "
                                f"{old.pre.target!r}")
        if pre.task != old.task:
            raise TrainingError(f"the task is {pre.task}; {where} was trained for "
                                f"{old.task}")
        now = {c["name"]: c["kind"] for c in _plain(pre.to_meta()[0])["columns"]}
        then = {c["name"]: c["kind"] for c in old.pre.to_meta()[0]["columns"]}
        if now != then:
            parts = []
            gone = [n for n in then if n not in now]
            new = [n for n in now if n not in then]
            if gone:
                parts.append("without " + ", ".join(map(repr, gone)))
            if new:
                parts.append("with " + ", ".join(map(repr, new)) + " in addition")
            parts += [f"{n!r} is {now[n]}, was {then[n]}" for n in now
                      if n in then and now[n] != then[n]]
            raise TrainingError(f"the data's columns differ from those {where} was "
                                f"trained on: {'; '.join(parts) or 'in another order'}")
        if spec.loss != old.spec.loss:
            raise TrainingError(f"the loss is {spec.loss}; {where} was trained with "
                                f"{old.spec.loss}")
        net = old.net
        if list(sizes) != list(net.sizes):
            raise TrainingError(f"the network would be {_shape(sizes)}; {where} holds "
                                f"{_shape(net.sizes)}")
        then_rows = (old.info.get("rows_train"), old.info.get("rows_val"))
        if tuple(rows) != then_rows:
            raise TrainingError(f"the data has {rows[0]:,} training and {rows[1]:,} "
                                f"validation rows; {where} was trained on {then_rows[0]:,} "
                                f"and {then_rows[1]:,}")
        meta_now, arrays_now = pre.to_meta()
        meta_then, arrays_then = old.pre.to_meta()
        same = _canon(meta_now) == _canon(meta_then) and arrays_now.keys() == \
            arrays_then.keys() and all(_same_array(arrays_now[k], arrays_then[k])
                                       for k in arrays_now)
        if not same:
            raise TrainingError(f"the data's values differ from those {where} was trained "
                                f"on (its columns' statistics or categories changed); "
                                f"resume on the data the run started with")


class Writer(Callback):
    """Writes a checkpoint of the run at the end of every `every`-th epoch, and when
    training ends otherwise than by diverging (completed, stopped early, interrupted):
    then the state is that of the last epoch that ended. write(fit_state, kept) does the
    writing; kept is the weights the run would keep if it ended there (None: the
    network's own, as training left them)."""

    def __init__(self, path, every, write):
        self.path, self.every, self.write = path, int(every), write
        self.written = None         # the FitState last written
        if self.every < 1:
            raise TrainingError(f"must be at least 1, got {every}", setting="checkpoint_every")

    def on_epoch_end(self, state, logs):
        fs = state.fit_state
        # the last epoch's checkpoint waits for the end, which decides the weights kept
        if fs is not None and fs.epoch % self.every == 0 and fs.epoch < state.epochs:
            self.write(fs, fs.best if fs.best_epoch else fs.params)
            self.written = fs

    def on_train_end(self, state):
        fs = state.fit_state
        if fs is not None and fs is not self.written and state.stop_reason != "diverged":
            self.write(fs, None)
            self.written = fs


def _count(value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a count, got {str(value)[:40]}")
    return value


def _shape(sizes):
    return "-".join(str(int(s)) for s in sizes)


def _same_array(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind == "U" or b.dtype.kind == "U":
        return a.tolist() == b.tolist()
    return a.shape == b.shape and a.dtype == b.dtype and \
        np.array_equal(a.view(np.uint8), b.view(np.uint8))


def _plain(obj):
    """obj as it comes back from a model file's JSON: tuples as lists, numpy scalars as
    numbers."""
    return json.loads(_canon(obj))


def _canon(obj):
    """obj's JSON text with sorted keys: equal for a record fitted now and the same
    record read back from a file (NaN included, which == would call different)."""
    return json.dumps(obj, default=_number, sort_keys=True)


def _number(x):
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"{type(x).__name__} in a preprocessing record")
