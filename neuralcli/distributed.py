"""Data-parallel training over MPI (mpi4py), for `mpirun -n N neuralcli train ...`.

Every rank holds a contiguous block of the training rows (and of the validation rows), the
blocks in rank order. Each epoch every rank draws the same permutation of all the training
rows that one process would draw; a step's global batch is that permutation's next slice,
and each rank takes from it the rows it holds. A rank computes the gradient of its part
(the weighted mean loss over its rows, as the kernels give it), multiplies it by its part's
weight, and every rank gathers all the parts in rank order and adds them up in float64 in
that order: every rank then holds the same bytes and takes the same optimizer step, so the
weights stay bitwise identical across ranks, and from run to run. The sum is the global
batch's gradient up to rounding, so training follows one process's run with the same
global batch and seed.

The loss, accuracy, validation figures, early stopping and schedules are decided on the
reduced values, so every rank stops at the same epoch. A signal (Ctrl-C, SIGTERM) on any
rank is carried by the next step's reduction, and every rank stops at that step.

A single-process run never imports this module's MPI side: `launched()` reads only the
environment, and mpi4py is imported by `world()` alone."""
import math
import os
import signal
import sys
import threading

import numpy as np

from neuralcli import _kernels, losses, metrics
from neuralcli.network import Encoded
from neuralcli.training import Trainer, TrainingError, _Rows, _Stop

# Variables a launcher sets in every process it starts: Open MPI's mpirun, MPICH's and
# Intel MPI's hydra (PMI), PMIx launchers (Open MPI 5, Slurm's srun --mpi=pmix) and MVAPICH.
LAUNCH_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE")

INSTALL_HINT = 'pip install "neuralcli[mpi]"'


def launched(environ=None):
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun)."""
    env = os.environ if environ is None else environ
    return any(name in env for name in LAUNCH_VARIABLES)


class DistributedError(Exception):
    """Distributed training cannot start (mpi4py missing, say): one line for the user."""


class PeerFailed(Exception):
    """Another rank failed: `line` is its error as its user would read it, `exit_code` the
    code it ends with. Rank 0 says the line; every rank ends with the code."""

    def __init__(self, rank, line, exit_code=1):
        self.rank, self.line, self.exit_code = rank, line, exit_code
        super().__init__(line)


def world():
    """The MPI world as a Comm (MPI is initialized here, on first use)."""
    try:
        import mpi4py
    except ImportError:
        raise DistributedError(f"distributed training needs mpi4py; install it with "
                               f"{INSTALL_HINT}") from None
    from mpi4py import MPI

    return Comm(MPI.COMM_WORLD)


class Comm:
    """The few collectives training needs, on an mpi4py communicator."""

    def __init__(self, comm):
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        # an error's one line, as the front end words it (the command line sets its own)
        self.describe = str

    def block(self, n):
        """(first, end) of this rank's contiguous block of n rows: rank r holds
        rows [r*n//size, (r+1)*n//size), so the blocks are in rank order and differ in
        size by one row at most (a rank may hold none)."""
        return self.rank * n // self.size, (self.rank + 1) * n // self.size

    def default_threads(self):
        """Kernel threads for each rank when none are asked for: the cores the launcher
        bound this rank to, or, when it bound none, this machine's cores shared among
        the ranks on it (one each when there are more ranks than cores)."""
        from mpi4py import MPI

        total = os.cpu_count() or 1
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = total
        if cores < total:
            return cores
        here = self.comm.Split_type(MPI.COMM_TYPE_SHARED)
        try:
            local = here.Get_size()
        finally:
            here.Free()
        return max(1, cores // local)

    def allgather(self, obj):
        return self.comm.allgather(obj)

    def alltoall(self, objs):
        """objs[r] sent to rank r; what every rank sent to this one, in rank order."""
        return self.comm.alltoall(objs)

    def sum_rows(self, part):
        """Every rank's float64 vector `part` added up in rank order, the same bytes on
        every rank: the parts are gathered (not reduced, whose order MPI leaves open) and
        summed here one rank after another."""
        part = np.ascontiguousarray(part, dtype=np.float64)
        parts = np.empty((self.size, part.size), dtype=np.float64)
        from mpi4py import MPI

        self.comm.Allgather([part, MPI.DOUBLE], [parts, MPI.DOUBLE])
        total = parts[0].copy()
        for r in range(1, self.size):
            total += parts[r]
        return total

    def agree(self, error):
        """After a phase that may fail on some ranks only (reading a rank's rows, say):
        every rank learns whether any failed, and the lowest failing rank's error. That
        rank raises its own error; every other rank raises PeerFailed with its line and
        exit code. Returns when no rank failed."""
        mine = None if error is None else (_exit_code(error), self.describe(error))
        failed = self.comm.allgather(mine)
        for r, report in enumerate(failed):
            if report is not None:
                if r == self.rank:
                    raise error
                raise PeerFailed(r, report[1], report[0])

    def abort(self, code=1):
        """End every rank of the job now (MPI_Abort): for an error that reached one rank
        alone where the others may be waiting in a collective."""
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        self.comm.Abort(code)


def _exit_code(error):
    if isinstance(error, PeerFailed):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 143 if type(error).__name__ == "Terminated" else 130
    return int(getattr(error, "exit_code", 1) or 1)


def agreed(comm, fn):
    """fn() run on every rank, its failure on any rank made every rank's (Comm.agree)."""
    try:
        result = fn()
    except Exception as exc:  # noqa: BLE001 - handed to every rank by agree
        comm.agree(exc)
        raise  # not reached: agree raises on every rank when one failed
    comm.agree(None)
    return result


class ShardRows(_Rows):
    """One rank's block of a split's rows, which starts at the split's row `offset` of
    `total`. len() is the whole split's: the trainer cuts the whole split into global
    batches, and batches() gives this rank's rows of each."""

    def __init__(self, offset, total, **arrays):
        super().__init__(**arrays)
        self.offset, self.total = int(offset), int(total)
        self.local = len(self.arrays["y"])

    def __len__(self):
        return self.total

    def batches(self, batch_rows, rng=None, shuffle=False):
        n, bs = self.total, int(batch_rows)
        lo_row, hi_row = self.offset, self.offset + self.local
        # the same draw as one process's: the permutation of all the split's rows
        perm = rng.permutation(n) if shuffle else None
        for lo in range(0, n, bs):
            if perm is None:
                first, end = max(lo, lo_row), min(lo + bs, hi_row)
                mine = slice(first - lo_row, max(first, end) - lo_row)
                yield {k: a[mine] for k, a in self.arrays.items()}
            else:
                idx = perm[lo:lo + bs]
                idx = idx[(idx >= lo_row) & (idx < hi_row)] - lo_row
                yield {k: a.take(idx, axis=0) for k, a in self.arrays.items()}


class DistributedTrainer(Trainer):
    """A Trainer whose every step is data-parallel over the ranks of `comm`. fit takes
    this rank's block of the training rows (and of the validation rows); the blocks are
    in rank order. Steps run one Python step per batch (a compiled run cannot stop for a
    reduction), each split into this rank's gradient, the reduction and the update."""

    compiled_runs = False

    def __init__(self, model, task, config, callbacks=(), *, comm):
        super().__init__(model, task, config, callbacks)
        if config.l2:
            raise TrainingError("l2 is not supported in distributed training; use "
                                "weight_decay", setting="l2")
        self.comm = comm
        self._signal = 0
        self._reduced = (0.0, 0.0)     # the last global batch's rows and correct ones

    # -------------------------------------------------------------- the rows

    def _shard(self, X, y, sw):
        counts = self.comm.allgather(0 if y is None else len(y))
        offset, total = sum(counts[:self.comm.rank]), sum(counts)
        X, y, sw = self._prepare(X, y, sw)
        if isinstance(X, Encoded):
            return ShardRows(offset, total, dense=X.dense, codes=X.codes, y=y, sw=sw)
        return ShardRows(offset, total, dense=X, y=y, sw=sw)

    def _rows(self, X, y, sample_weight, what="training"):
        if isinstance(X, ShardRows):
            return X
        if y is None:
            raise TrainingError(f"the {what} rows need targets (y)")
        return self._shard(X, y, sample_weight)

    # -------------------------------------------------------------- one step

    def step(self, xb, yb, swb, lr, seed, codes=None):
        """This rank's part of one global batch: its gradient, then the reduction of all
        the parts (in rank order), then the same update on every rank; returns the global
        batch's loss."""
        model, st = self.model, self.state
        n = xb.shape[0]
        st.step += 1
        P = model.n_params
        part = np.zeros(P + 5, dtype=np.float64)
        if n:
            if self._fused:
                work, out = model.small_buffers(n)
                t, labels = (None, yb) if self._labels else (yb, None)
                loss = model.fused_step(self.grads, out, work, xb, t, labels, swb, self.loss,
                                        codes=codes)
            else:
                work, out, dout = model.buffers(n)
                model.forward_into(out, work, xb, codes, train=True, seed=seed, step=st.step)
                loss = losses.evaluate(self.loss, out, yb, swb, dout)
                model.backward_into(self.grads, work, dout, xb, out, codes, seed=seed,
                                    step=st.step)
            self.last_out = out
            # the kernels' loss and gradient are means over the part's weight
            w = float(n) if swb is None else float(np.sum(swb, dtype=np.float64))
            np.multiply(self.grads, w, out=part[:P], dtype=np.float64)
            part[P] = loss * w
            part[P + 1] = w
            part[P + 3] = n
            if self.task.classification:
                part[P + 2] = metrics.count_correct(yb, out, self.task.kind, self.loss)
        part[P + 4] = self._signal
        total = self.comm.sum_rows(part)
        if total[P + 4]:
            self._interrupted()
        w = total[P + 1]
        loss = total[P] / w if w > 0 else 0.0
        self._reduced = (total[P + 3], total[P + 2])
        if not math.isfinite(loss) or not np.isfinite(total[:P]).all():
            return loss if not math.isfinite(loss) else math.nan
        self.grads[...] = total[:P] / w if w > 0 else 0.0
        s = self.cfg.loss_scale
        scale = s
        if self.cfg.clip_norm:
            # the norm of the reduced gradient, as one process takes it of its own
            norm = s * math.sqrt(_kernels.sum_squares(self.grads))
            if norm > self.cfg.clip_norm:
                scale = s * self.cfg.clip_norm / norm
        self.optimizer.step(model.params, self.grads, lr, scale)
        return loss * s

    def _batch_counts(self, yb):
        # the global batch's rows and correct predictions, reduced with its gradient
        rows, correct = self._reduced
        return rows, int(correct)

    # -------------------------------------------------------------- evaluation

    def evaluate(self, X, y=None, sample_weight=None):
        """(loss, metric) over every rank's rows: the parts' weighted loss sums, correct
        counts and R^2 sums added up in rank order."""
        if y is None and not isinstance(X, ShardRows):
            raise TrainingError("the evaluation rows need targets (y)")
        X, y, sw = self._prepare(X, y, sample_weight)
        n = len(y)
        K = 1 if y.ndim == 1 else y.shape[1]
        part = np.zeros(4 + 4 * K, dtype=np.float64)
        if n:
            out = self.model.forward(X)
            loss = float(losses.evaluate(self.loss, out, y, sw))
            w = float(n) if sw is None else float(np.sum(sw, dtype=np.float64))
            part[0], part[1], part[2] = loss * w, w, n
            if self.task.classification:
                part[3] = metrics.count_correct(y, out, self.task.kind, self.loss)
            else:
                r2 = metrics.R2Sum()
                r2.add(y, out, sw)
                part[4:4 + K] = r2.w
                part[4 + K:4 + 2 * K] = r2.w * r2.mean
                part[4 + 2 * K:4 + 3 * K] = r2.m2
                part[4 + 3 * K:4 + 4 * K] = r2.res
        parts = np.array(self.comm.allgather(part))
        loss_sum = parts[0, 0]
        for r in range(1, len(parts)):
            loss_sum += parts[r, 0]
        weight = sum(float(p[1]) for p in parts)
        rows = int(sum(p[2] for p in parts))
        loss = loss_sum / weight if weight else 0.0
        if self.task.classification:
            metric = sum(float(p[3]) for p in parts) / max(1, rows)
        else:
            metric = _merged_r2(parts, K, rows)
        return float(loss) * self.cfg.loss_scale, None if metric is None else float(metric)

    # -------------------------------------------------------------- the loop

    def fit(self, X, y=None, sample_weight=None, X_val=None, y_val=None, val_weight=None,
            *, resume=None):
        """Trainer.fit on this rank's blocks of the rows. A FitState to resume holds only
        what every rank shares (the weights, the optimizer's state, the shuffle's
        generator, the history), so a run saved by one process, or by any number of
        ranks, resumes on any number."""
        rows = self._rows(X, y, sample_weight)
        if X_val is not None and not isinstance(X_val, ShardRows):
            has = self.comm.allgather(len(X_val) > 0)
            if any(has):
                X_val = self._shard(X_val, y_val, val_weight)
                y_val = val_weight = None
            else:
                X_val = None
        with _SignalsAsFlag(self):
            return super().fit(rows, None, None, X_val, y_val, val_weight, resume=resume)

    def _prepare(self, X, y, sample_weight):
        if isinstance(X, ShardRows):
            a = X.arrays
            return (Encoded(a["dense"], a["codes"]) if "codes" in a else a["dense"],
                    a["y"], a.get("sw"))
        return super()._prepare(X, y, sample_weight)

    def _interrupted(self):
        """A rank received a signal: every rank stops at this step, before its update."""
        signum, self._signal = self._signal, 0
        handler = self._handlers.get(signum) if signum else None
        if callable(handler):
            handler(signum, None)   # the command's own handler: records it and raises
        raise KeyboardInterrupt()


def _merged_r2(parts, K, rows):
    """R^2 from the ranks' per-output weights, weighted sums, M2 and residual sums, merged
    in rank order by Chan et al.'s update."""
    if rows < 2:
        return None
    acc = metrics.R2Sum()
    acc.n = rows
    acc.res = np.zeros(K)
    for p in parts:
        w = p[4:4 + K]
        if not np.any(w > 0):
            acc.res = acc.res + p[4 + 3 * K:4 + 4 * K]
            continue
        mean = p[4 + K:4 + 2 * K] / w
        m2 = p[4 + 2 * K:4 + 3 * K]
        total = acc.w + w
        delta = mean - acc.mean
        acc.mean = acc.mean + delta * (w / total)
        acc.m2 = acc.m2 + m2 + delta ** 2 * (acc.w * w / total)
        acc.w = total
        acc.res = acc.res + p[4 + 3 * K:4 + 4 * K]
    return acc.score()


class _SignalsAsFlag:
    """While training: SIGINT and SIGTERM only set the trainer's flag, which the next
    step's reduction carries to every rank (a signal on one rank cannot stop it alone
    between two collectives). The handlers before are kept, and called when the step
    stops."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, trainer):
        self.trainer = trainer
        self.before = {}

    def __enter__(self):
        self.trainer._handlers = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.before[sig] = signal.signal(sig, self._flag)
            self.trainer._handlers = dict(self.before)
        return self

    def _flag(self, signum, frame):
        self.trainer._signal = int(signum)

    def __exit__(self, *exc):
        for sig, before in self.before.items():
            signal.signal(sig, before)
        # a signal after the last step reaches no rank's reduction: training has ended
        # on every rank, and the model is saved as after a whole run
        self.trainer._signal = 0
