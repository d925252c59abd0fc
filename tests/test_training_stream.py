"""The training loop's batches: gathered from one permutation per epoch without copying
the data (bitwise the copy-per-epoch loop it replaced), and read from spilled rows a
window at a time."""
import math
import os

import numpy as np
import pytest

from helpers import assert_bitwise_equal
from neuralcli.network import MLP, Encoded
from neuralcli.spill import SpillArrays, SpilledRows
from neuralcli.training import Callback, Task, TrainConfig, Trainer, TrainingError

BINARY = Task("binary", "bce", 1)
MULTI = Task("multiclass", "cross_entropy", 3)
REGRESSION = Task("regression", "mse", 2)

N_DENSE, LEVELS = 3, (4, 3)      # Encoded inputs: 3 dense, two categorical columns


def _data(n, task=BINARY, encoded=False, weights=False, seed=0, dtype=np.float32):
    """Learnable rows: (X, y, sw) with X an array (n, 5) or an Encoded whose codes pick
    first-layer rows N_DENSE.. of the one-hot columns."""
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, N_DENSE if encoded else 5)).astype(dtype)
    signal = dense[:, 0] - 0.5 * dense[:, 1]
    X = dense
    if encoded:
        codes = np.empty((n, len(LEVELS)), np.int32)
        first = N_DENSE
        for j, k in enumerate(LEVELS):
            level = rng.integers(0, k, n)
            codes[:, j] = first + level
            signal = signal + (level - k / 2) * 0.5
            first += k
        codes[rng.random(n) < 0.1, 1] = -1          # a missing category selects no row
        X = Encoded(dense, codes)
    if task.kind == "binary":
        y = (signal > 0).astype(dtype).reshape(-1, 1)
    elif task.kind == "multiclass":
        y = np.digitize(signal, [-0.5, 0.5]).astype(np.int32)
    else:
        y = np.column_stack([signal, 0.5 * signal ** 2]).astype(dtype)
    sw = rng.uniform(0.2, 2.0, n).astype(dtype) if weights else None
    return X, y, sw


def _net(task, encoded=False, dropout=0.0, dtype="float32", hidden=16, seed=3):
    n_in = N_DENSE + sum(LEVELS) if encoded else 5
    sizes = [n_in, hidden, hidden, task.n_outputs]
    return MLP(sizes, ["relu", "relu", "identity"], dropout=[dropout, dropout, 0.0],
               dtype=dtype, seed=seed, n_dense=N_DENSE if encoded else None)


class _Epochs(Callback):
    """The weights at the end of every epoch."""

    def __init__(self, net):
        self.net, self.params = net, []

    def on_epoch_end(self, state, logs):
        self.params.append(self.net.params.copy())


def _oracle(trainer, X, y, sw=None):
    """The copy-per-epoch loop, over the same Trainer.step: every epoch the whole data is
    permuted into shuffled copies, cut into consecutive batches. Returns the weights at
    the end of every epoch."""
    cfg, net = trainer.cfg, trainer.model
    X, y, sw = trainer._prepare(X, y, sw)
    dense, codes = (X.dense, X.codes) if isinstance(X, Encoded) else (X, None)
    n = len(y)
    bs = n if not cfg.batch_size else min(int(cfg.batch_size), n)
    nb = (n + bs - 1) // bs
    shuffle = cfg.shuffle and nb > 1
    rng = np.random.default_rng(cfg.seed)
    dropout_seed = int(cfg.seed) * 7919 + 17
    params = []
    for epoch in range(int(cfg.epochs)):
        lr = trainer.schedule.lr(epoch)
        if shuffle:
            perm = rng.permutation(n)
            dense_s, y_s = dense[perm], y[perm]
            codes_s = None if codes is None else codes[perm]
            sw_s = None if sw is None else sw[perm]
        else:
            dense_s, y_s, codes_s, sw_s = dense, y, codes, sw
        for b in range(nb):
            lo, hi = b * bs, min(n, (b + 1) * bs)
            loss = trainer.step(dense_s[lo:hi], y_s[lo:hi],
                                None if sw_s is None else sw_s[lo:hi], lr, dropout_seed,
                                None if codes_s is None else codes_s[lo:hi])
            assert math.isfinite(loss)
        params.append(net.params.copy())
    return params


def _spill(X, y, sw=None, dtype=np.float32, chunk=97):
    """A SpillArrays holding the rows as SpilledRows reads them, appended in chunks."""
    dense, codes = (X.dense, X.codes) if isinstance(X, Encoded) else (X, None)
    y = np.asarray(y)
    if y.dtype != np.int32:
        y = y.astype(dtype)
    spec = {"dense": (dtype, dense.shape[1:]), "y": (y.dtype, y.shape[1:])}
    if codes is not None:
        spec["codes"] = (np.int32, codes.shape[1:])
    if sw is not None:
        spec["sw"] = (dtype, ())
    s = SpillArrays(spec)
    for lo in range(0, len(y), chunk):
        part = {"dense": dense[lo:lo + chunk], "y": y[lo:lo + chunk]}
        if codes is not None:
            part["codes"] = codes[lo:lo + chunk]
        if sw is not None:
            part["sw"] = sw[lo:lo + chunk]
        s.append(**part)
    return s


# ------------------------------------------------------------------ in memory, no copy

CASES = [  # task, encoded, sample weights, dropout (a dropout network takes the GEMM path)
    pytest.param(BINARY, False, False, 0.0, id="dense-fused"),
    pytest.param(BINARY, False, True, 0.2, id="dense-weights-gemm"),
    pytest.param(BINARY, True, True, 0.0, id="encoded-weights-fused"),
    pytest.param(MULTI, True, False, 0.2, id="encoded-labels-gemm"),
    pytest.param(REGRESSION, False, True, 0.0, id="regression-weights-fused"),
]


@pytest.mark.parametrize("n_threads", [1, 2])
@pytest.mark.parametrize("task,encoded,weights,dropout", CASES)
def test_batches_without_copies_are_bitwise_the_copying_loop(task, encoded, weights, dropout,
                                                             n_threads, threads):
    threads(n_threads)
    X, y, sw = _data(203, task, encoded, weights)       # 203 rows: a short last batch
    cfg = dict(epochs=3, batch_size=32, lr=0.01, seed=5)
    want_net = _net(task, encoded, dropout)
    assert want_net.fused == (dropout == 0)
    want = _oracle(Trainer(want_net, task, TrainConfig(**cfg)), X, y, sw)
    net = _net(task, encoded, dropout)
    snaps = _Epochs(net)
    st = Trainer(net, task, TrainConfig(**cfg), [snaps]).fit(X, y, sw)
    assert st.stop_reason == "completed" and st.batches_per_epoch == 7
    assert len(snaps.params) == 3
    for epoch, (got, exp) in enumerate(zip(snaps.params, want)):
        assert_bitwise_equal(got, exp, f"weights after epoch {epoch + 1}")
    assert not np.array_equal(want[0], want[1])


@pytest.mark.parametrize("n_threads", [1, 2])
def test_validation_between_epochs_leaves_training_bitwise_the_same(n_threads, threads):
    threads(n_threads)
    X, y, sw = _data(300, BINARY, encoded=True, weights=True)
    Xv, yv, _ = _data(80, BINARY, encoded=True, seed=1)
    cfg = dict(epochs=4, batch_size=16, lr=0.01, seed=2)
    want_net = _net(BINARY, encoded=True)
    want = _oracle(Trainer(want_net, BINARY, TrainConfig(**cfg)), X, y, sw)
    net = _net(BINARY, encoded=True)
    snaps = _Epochs(net)
    tr = Trainer(net, BINARY, TrainConfig(**cfg), [snaps])
    st = tr.fit(X, y, sw, X_val=Xv, y_val=yv)
    for got, exp in zip(snaps.params, want):
        assert_bitwise_equal(got, exp, "weights")
    assert st.history[-1]["val_loss"] == tr.evaluate(Xv, yv)[0]


def test_unshuffled_and_full_batch_training_match_the_copying_loop():
    X, y, sw = _data(150, BINARY, weights=True)
    for cfg in (dict(epochs=3, batch_size=40, shuffle=False), dict(epochs=3, batch_size=0)):
        want = _oracle(Trainer(_net(BINARY), BINARY, TrainConfig(lr=0.01, **cfg)), X, y, sw)
        net = _net(BINARY)
        Trainer(net, BINARY, TrainConfig(lr=0.01, **cfg)).fit(X, y, sw)
        assert_bitwise_equal(net.params, want[-1], f"weights of {cfg}")


# ------------------------------------------------------------------ spilled rows

class _Recording(Trainer):
    """A trainer that records the rows of every batch it steps on (the row number is
    the first dense input)."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.batches = []

    def step(self, xb, yb, swb, lr, seed, codes=None):
        self.batches.append((self.state.epoch, xb[:, 0].astype(np.int64)))
        return super().step(xb, yb, swb, lr, seed, codes)


def _numbered(n):
    X, y, _ = _data(n, BINARY, seed=4)
    X[:, 0] = np.arange(n)          # exact in float32 below 2**24
    return X, y


@pytest.mark.parametrize("n,block,window,batch", [
    (1001, 50, 230, 32),    # windows of 4 blocks (200 rows): batches straddle windows
    (1001, 50, 230, 300),   # a batch bigger than a window
    (640, 64, 640, 64),     # windows and batches that divide the rows evenly
    (37, 5, 5, 8),          # one block per window
])
def test_spilled_epochs_visit_every_row_once_in_full_batches(n, block, window, batch):
    X, y = _numbered(n)
    with _spill(X, y) as s:
        rows = SpilledRows(s, window_rows=window, block_rows=block)
        tr = _Recording(_net(BINARY), BINARY, TrainConfig(epochs=3, batch_size=batch, seed=1))
        st = tr.fit(rows)
    assert st.stop_reason == "completed"
    orders = []
    for epoch in range(3):
        sizes = [len(r) for e, r in tr.batches if e == epoch]
        assert len(sizes) == st.batches_per_epoch == -(-n // batch)
        assert all(size == batch for size in sizes[:-1]) and 0 < sizes[-1] <= batch
        seen = np.concatenate([r for e, r in tr.batches if e == epoch])
        np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        orders.append(seen)
    assert not np.array_equal(orders[0], orders[1])
    # the same seed gives the same order
    with _spill(X, y) as s:
        again = _Recording(_net(BINARY), BINARY, TrainConfig(epochs=1, batch_size=batch,
                                                              seed=1))
        again.fit(SpilledRows(s, window_rows=window, block_rows=block))
    np.testing.assert_array_equal(np.concatenate([r for _, r in again.batches]), orders[0])


def test_spilled_rows_in_file_order_without_shuffling():
    X, y = _numbered(300)
    with _spill(X, y) as s:
        tr = _Recording(_net(BINARY), BINARY,
                        TrainConfig(epochs=2, batch_size=32, shuffle=False))
        tr.fit(SpilledRows(s, window_rows=70, block_rows=20))
    np.testing.assert_array_equal(np.concatenate([r for _, r in tr.batches]),
                                  np.tile(np.arange(300), 2))


@pytest.mark.parametrize("task,encoded,weights,dropout", CASES)
def test_one_block_in_one_window_trains_bitwise_as_in_memory(task, encoded, weights, dropout):
    """With the whole data in one block and one window, an epoch's blocks come in the one
    possible order and the window's rows in one permutation of all rows, drawn from the
    seed's generator exactly as the in-memory loop draws it."""
    X, y, sw = _data(203, task, encoded, weights)
    cfg = dict(epochs=3, batch_size=32, lr=0.01, seed=7)
    want_net = _net(task, encoded, dropout)
    want = Trainer(want_net, task, TrainConfig(**cfg)).fit(X, y, sw)
    net = _net(task, encoded, dropout)
    with _spill(X, y, sw) as s:
        st = Trainer(net, task, TrainConfig(**cfg)).fit(
            SpilledRows(s, window_rows=203, block_rows=203))
    assert_bitwise_equal(net.params, want_net.params, "weights")
    assert [h["loss"] for h in st.history] == [h["loss"] for h in want.history]


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_spilled_training_is_bitwise_the_same_at_1_and_2_threads(dropout, threads):
    X, y, sw = _data(700, BINARY, encoded=True, weights=True, seed=6)
    got = []
    with _spill(X, y, sw) as s:
        for n in (1, 2):
            threads(n)
            net = _net(BINARY, encoded=True, dropout=dropout)
            Trainer(net, BINARY, TrainConfig(epochs=2, batch_size=32, lr=0.01)).fit(
                SpilledRows(s, window_rows=150, block_rows=30))
            got.append(net.params)
    assert_bitwise_equal(got[0], got[1], "weights at 1 and 2 threads")


def test_small_windows_train_as_well_as_in_memory():
    X, y, _ = _data(4000, BINARY, encoded=True, seed=8)
    cfg = dict(epochs=8, batch_size=32, lr=0.01, seed=0)
    mem_net = _net(BINARY, encoded=True)
    mem = Trainer(mem_net, BINARY, TrainConfig(**cfg)).fit(X, y)
    net = _net(BINARY, encoded=True)
    with _spill(X, y) as s:
        rows = SpilledRows(s, window_rows=300, block_rows=25)
        tr = Trainer(net, BINARY, TrainConfig(**cfg))
        st = tr.fit(rows)
        final, accuracy = tr.evaluate(rows)
    first = st.history[0]["loss"]
    assert st.history[-1]["loss"] < 0.5 * first
    assert final < 1.5 * mem.history[-1]["loss"] + 0.02
    assert accuracy > 0.9
    assert not np.array_equal(net.params, mem_net.params)


@pytest.mark.parametrize("task,encoded,weights,dtype", [
    (BINARY, True, True, "float32"),
    (MULTI, False, True, "float64"),
    (REGRESSION, True, True, "float64"),
    (REGRESSION, False, False, "float32"),
])
def test_evaluate_on_spilled_rows_equals_evaluate_in_memory(task, encoded, weights, dtype):
    X, y, sw = _data(1000, task, encoded, weights, dtype=np.dtype(dtype).type)
    net = _net(task, encoded, dtype=dtype)
    tr = Trainer(net, task, TrainConfig(epochs=2, batch_size=64, lr=0.01))
    tr.fit(X, y, sw)
    want = tr.evaluate(X, y, sw)
    with _spill(X, y, sw, dtype=np.dtype(dtype).type) as s:
        got = tr.evaluate(SpilledRows(s, window_rows=128, block_rows=32))
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert math.isclose(got[0], want[0], rel_tol=rtol), (got, want)
    if task.classification:
        assert got[1] == want[1]
    else:
        assert math.isclose(got[1], want[1], rel_tol=rtol), (got, want)


def test_spilled_validation_and_early_stopping_restore_the_best_weights():
    X, y, _ = _data(400, BINARY, seed=2)
    Xv, yv, _ = _data(60, BINARY, seed=3)
    yv = 1 - yv        # a validation set the model cannot fit turns its loss upward
    net = _net(BINARY)
    snaps = _Epochs(net)
    cfg = TrainConfig(epochs=200, batch_size=32, lr=0.01, early_stopping=True, patience=3,
                      min_delta=0.0)
    with _spill(X, y) as s, _spill(Xv, yv) as sv:
        val = SpilledRows(sv, window_rows=25, block_rows=5)
        tr = Trainer(net, BINARY, cfg, [snaps])
        st = tr.fit(SpilledRows(s, window_rows=100, block_rows=10), X_val=val)
        assert st.stop_reason == "early_stopping"
        assert len(st.history) == st.best_epoch + 3
        assert_bitwise_equal(net.params, snaps.params[st.best_epoch - 1], "restored weights")
        assert math.isclose(st.history[st.best_epoch - 1]["val_loss"], tr.evaluate(val)[0],
                            rel_tol=1e-6)
        assert math.isclose(tr.evaluate(val)[0], tr.evaluate(Xv, yv)[0], rel_tol=1e-5)


class _Raise(Callback):
    def __init__(self, exc, batch=5):
        self.exc, self.batch, self.count = exc, batch, 0

    def on_batch_end(self, state, logs):
        self.count += 1
        if self.count == self.batch:
            raise self.exc


def test_the_callers_spill_outlives_fit_and_goes_with_its_with():
    X, y = _numbered(500)
    # Ctrl-C: fit ends cleanly, the spill is still there for the caller, then removed
    with _spill(X, y) as s:
        where = s.dir
        tr = Trainer(_net(BINARY), BINARY, TrainConfig(epochs=5, batch_size=32),
                     [_Raise(KeyboardInterrupt(), batch=20)])
        st = tr.fit(SpilledRows(s, window_rows=64, block_rows=16))
        assert st.stop_reason == "interrupted"
        assert os.path.isdir(where) and len(os.listdir(where)) == 2
    assert not os.path.exists(where)
    # an error inside fit goes through the caller's with
    with pytest.raises(RuntimeError, match="boom"):
        with _spill(X, y) as s:
            where = s.dir
            Trainer(_net(BINARY), BINARY, TrainConfig(epochs=5, batch_size=32),
                    [_Raise(RuntimeError("boom"))]).fit(SpilledRows(s, window_rows=64))
    assert not os.path.exists(where)
    # SpilledRows in a with closes its spill
    with SpilledRows(_spill(X, y), window_rows=64) as rows:
        where = rows.spill.dir
        Trainer(_net(BINARY), BINARY, TrainConfig(epochs=1, batch_size=32)).fit(rows)
        assert os.path.isdir(where)
    assert not os.path.exists(where) and rows.spill.closed


def test_spilled_rows_that_do_not_fit_the_network_are_refused():
    X, y, sw = _data(50, BINARY, weights=True)
    with _spill(X, y, sw, dtype=np.float64) as s:
        rows = SpilledRows(s, window_rows=10)
        with pytest.raises(TrainingError, match="dense array holds float64"):
            Trainer(_net(BINARY), BINARY, TrainConfig()).fit(rows)
        with pytest.raises(TrainingError, match="dense array holds float64"):
            Trainer(_net(BINARY), BINARY, TrainConfig()).evaluate(rows)
    with _spill(X, y) as s:
        rows = SpilledRows(s, window_rows=10)
        with pytest.raises(TrainingError, match="without y"):
            Trainer(_net(BINARY), BINARY, TrainConfig()).fit(rows, y)
        with pytest.raises(TrainingError, match="y array holds float32 rows of shape"):
            Trainer(_net(MULTI), MULTI, TrainConfig()).fit(rows)
        with pytest.raises(TrainingError, match="targets"):
            Trainer(_net(BINARY), BINARY, TrainConfig()).fit(X)


def test_spilled_rows_settings():
    with SpillArrays({"dense": (np.float32, (5,)), "y": (np.float32, (1,))}) as s:
        assert s.row_bytes() == 24
        rows = SpilledRows(s, window_bytes=24 * 1000)
        assert rows.block_rows == 62 and rows.window_blocks == 16 and rows.window_rows == 992
        rows = SpilledRows(s, window_rows=100, block_rows=30)
        assert rows.window_blocks == 3 and rows.window_rows == 90 and len(rows) == 0
        assert list(rows.batches(8)) == []
        for bad in (dict(), dict(window_rows=10, window_bytes=100), dict(window_bytes=23),
                    dict(window_rows=0), dict(window_rows=10, block_rows=11)):
            with pytest.raises(ValueError):
                SpilledRows(s, **bad)
    with SpillArrays({"dense": (np.float32, (5,))}) as s, pytest.raises(ValueError):
        SpilledRows(s, window_rows=10)


# ------------------------------------------------------------------ memory

def _peak(fn):
    """Peak bytes that numpy and Python allocate while fn runs."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_training_in_memory_holds_no_copy_of_the_data():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((50_000, 20)).astype(np.float32)       # 4 MB
    y = (X[:, 0] > 0).astype(np.float32).reshape(-1, 1)
    sw = np.ones(len(X), np.float32)
    net = MLP([20, 8, 1], ["relu", "identity"])
    tr = Trainer(net, BINARY, TrainConfig(epochs=1, batch_size=256))
    tr.evaluate(X[:1000], y[:1000])
    # the epoch's permutation (8 bytes a row) and batch buffers, no shuffled rows
    peak = _peak(lambda: tr.fit(X, y, sw))
    assert tr.state.stop_reason == "completed"
    assert peak < 8 * len(X) + 200_000, peak


def test_training_on_spilled_rows_holds_one_window():
    X, y, _ = _data(40_000, BINARY, seed=5)
    with _spill(X, y, chunk=10_000) as s:
        rows = SpilledRows(s, window_bytes=32 * 1024, block_rows=128)
        data = len(rows) * s.row_bytes()                               # 960 KB
        net = _net(BINARY)
        tr = Trainer(net, BINARY, TrainConfig(epochs=1, batch_size=128))
        tr.evaluate(rows)          # the network's buffers for a window, made once
        peak = _peak(lambda: tr.fit(rows, X_val=rows))
        assert tr.state.stop_reason == "completed" and len(tr.state.history) == 1
    # a window of rows, batch buffers and the network's step buffers
    assert peak < 4 * 32 * 1024 and peak < data / 7, peak


def test_spilled_evaluate_scales_the_loss_and_counts_one_row():
    X, y, sw = _data(200, REGRESSION, weights=True, dtype=np.float64)
    tr = Trainer(_net(REGRESSION, dtype="float64"), REGRESSION,
                 TrainConfig(epochs=1, batch_size=32, lr=0.01, loss_scale=0.5))
    tr.fit(X, y, sw)
    want = tr.evaluate(X, y, sw)
    with _spill(X, y, sw, dtype=np.float64) as s:
        got = tr.evaluate(SpilledRows(s, window_rows=64, block_rows=16))
    assert math.isclose(got[0], want[0], rel_tol=1e-12)
    assert math.isclose(got[1], want[1], rel_tol=1e-12)
    Xb, yb, _ = _data(30, BINARY)
    trb = Trainer(_net(BINARY), BINARY, TrainConfig(epochs=1, batch_size=8, lr=0.01))
    trb.fit(Xb, yb)
    for i in range(3):
        one = trb.evaluate(Xb[i:i + 1], yb[i:i + 1])
        with _spill(Xb[i:i + 1], yb[i:i + 1]) as s:
            got = trb.evaluate(SpilledRows(s, window_rows=4, block_rows=4))
        assert got[1] == one[1] and got[1] in (0.0, 1.0)


def test_spilled_weights_and_codes_of_another_type_are_refused():
    X, y, sw = _data(40, BINARY, weights=True)
    spec = {"dense": (np.float32, (5,)), "y": (np.float32, (1,)), "sw": (np.float64, ())}
    with SpillArrays(spec) as s:
        s.append(dense=X.astype(np.float32), y=y.astype(np.float32), sw=sw.astype(np.float64))
        with pytest.raises(TrainingError, match="^the spilled evaluation rows' sw array "
                                                "holds float64 rows"):
            Trainer(_net(BINARY), BINARY, TrainConfig()).evaluate(SpilledRows(s, window_rows=8))
    Xe, ye, _ = _data(40, BINARY, encoded=True)
    spec = {"dense": (np.float32, (N_DENSE,)), "y": (np.float32, (1,)),
            "codes": (np.int64, (len(LEVELS),))}
    with SpillArrays(spec) as s:
        s.append(dense=Xe.dense.astype(np.float32), y=ye.astype(np.float32),
                 codes=Xe.codes.astype(np.int64))
        with pytest.raises(TrainingError, match="codes array holds int64 rows"):
            Trainer(_net(BINARY, encoded=True), BINARY, TrainConfig()).evaluate(
                SpilledRows(s, window_rows=8))


def test_spilled_rows_without_codes_feed_a_categorical_network_its_full_width():
    # a network with categorical inputs also takes rows one-hot encoded already: dense
    # rows of the first layer's full width, spilled without codes
    X, y, sw = _data(200, BINARY, encoded=True, weights=True)
    full = np.zeros((200, N_DENSE + sum(LEVELS)), np.float32)
    full[:, :N_DENSE] = X.dense
    for j in range(len(LEVELS)):
        hit = np.flatnonzero(X.codes[:, j] >= 0)
        full[hit, X.codes[hit, j]] = 1.0
    tr = Trainer(_net(BINARY, encoded=True), BINARY,
                 TrainConfig(epochs=1, batch_size=32, lr=0.01))
    tr.fit(X, y, sw)
    want = tr.evaluate(X, y, sw)
    with _spill(full, y, sw) as s:
        got = tr.evaluate(SpilledRows(s, window_rows=64, block_rows=16))
    assert math.isclose(got[0], want[0], rel_tol=1e-5) and got[1] == want[1]


@pytest.mark.parametrize("task", [BINARY, REGRESSION], ids=["binary", "regression"])
def test_spilled_evaluation_of_zero_total_weight_is_a_zero_loss_as_in_memory(task):
    X, y, _ = _data(100, task, dtype=np.float64)
    tr = Trainer(_net(task, dtype="float64"), task, TrainConfig(epochs=1, batch_size=32,
                                                               lr=0.01))
    tr.fit(X, y)
    sw = np.zeros(100)
    want = tr.evaluate(X, y, sw)
    with _spill(X, y, sw, dtype=np.float64) as s:
        got = tr.evaluate(SpilledRows(s, window_rows=32, block_rows=8))
    assert got == want and got[0] == 0.0


class _Batches(Callback):
    def __init__(self):
        self.logs = []

    def on_batch_end(self, state, logs):
        self.logs.append((logs["epoch"], logs["batch"], logs["batches"], logs["loss"]))


@pytest.mark.parametrize("n,block,window,batch", [
    (1001, 50, 230, 32),    # batches straddle windows
    (1001, 50, 230, 300),   # a batch bigger than a window
    (640, 64, 640, 64),     # windows and batches that divide the rows evenly
    (240, 20, 40, 60),      # a carried batch completed by a whole window
    (37, 5, 5, 8),          # one block per window
])
def test_spilled_compiled_runs_step_as_the_per_batch_path(n, block, window, batch):
    # the runs over each window and the batch carried between windows take the batches
    # the per-batch path takes, numbered alike for the callbacks
    X, y, sw = _data(n, BINARY, weights=True, dtype=np.float64)
    got = []
    for compiled in (True, False):
        seen = _Batches()
        tr = Trainer(_net(BINARY, dtype="float64"), BINARY,
                     TrainConfig(epochs=2, batch_size=batch, lr=0.01, seed=4), [seen])
        tr.compiled_runs = compiled
        with _spill(X, y, sw, dtype=np.float64) as s:
            st = tr.fit(SpilledRows(s, window_rows=window, block_rows=block))
        per_batch = [(e, b) for e, b, k, _ in seen.logs for b in range(b - k + 1, b + 1)]
        losses = {(e, b): loss for e, b, _, loss in seen.logs}
        got.append((tr.model.params.copy(), [h["loss"] for h in st.history], per_batch,
                    losses))
    nb = -(-n // batch)
    assert got[0][2] == got[1][2] == [(e, b) for e in (1, 2) for b in range(1, nb + 1)]
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)
    # a run reports the loss of its last batch
    for key, loss in got[0][3].items():
        assert math.isclose(loss, got[1][3][key], rel_tol=1e-12), key


def test_compiled_runs_whose_last_batch_needs_more_workspace_than_a_full_one():
    # the GEMM path's workspace for 256 rows is larger than for 257: a last batch of 256
    # after full ones of 257 gets its own
    X, y, _ = _data(770, REGRESSION, dtype=np.float64)
    got = []
    for compiled in (True, False):
        net = MLP([5, 200, 40, 2], ["relu", "relu", "identity"], dtype="float64", seed=1)
        assert not net.fused
        assert net.workspace_bytes(256) > net.workspace_bytes(257)
        tr = Trainer(net, REGRESSION, TrainConfig(epochs=2, batch_size=257, lr=0.01, seed=2))
        tr.compiled_runs = compiled
        st = tr.fit(X, y)
        got.append((tr.model.params.copy(), [h["loss"] for h in st.history]))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)


def test_spilled_evaluation_rows_take_no_separate_targets_or_weights():
    X, y, sw = _data(40, BINARY, weights=True)
    tr = Trainer(_net(BINARY), BINARY, TrainConfig())
    with _spill(X, y) as s:
        rows = SpilledRows(s, window_rows=8)
        for kw in (dict(y=y), dict(sample_weight=sw)):
            with pytest.raises(TrainingError, match="^the evaluation rows are spilled rows, "
                                                    "which hold their own targets and "
                                                    "weights; pass them without y or "
                                                    "weights$"):
                tr.evaluate(rows, **kw)


def test_a_logit_of_exactly_zero_counts_as_the_first_class_in_spilled_evaluation():
    X, y, _ = _data(64, BINARY, dtype=np.float64)
    net = _net(BINARY, dtype="float64")
    net.params[...] = 0.0
    tr = Trainer(net, BINARY, TrainConfig())
    want = float(np.mean(y[:, 0] == 0))
    assert 0 < want < 1 and tr.evaluate(X, y)[1] == want
    with _spill(X, y, dtype=np.float64) as s:
        assert tr.evaluate(SpilledRows(s, window_rows=16, block_rows=8))[1] == want


def test_in_memory_compiled_runs_take_a_last_batch_of_one_row():
    # 33 rows in batches of 16: the last batch has one row, in compiled runs as per batch
    X, y, sw = _data(33, REGRESSION, weights=True, dtype=np.float64)
    got = []
    for compiled in (True, False):
        tr = Trainer(_net(REGRESSION, dtype="float64"), REGRESSION,
                     TrainConfig(epochs=3, batch_size=16, lr=0.01, seed=5))
        tr.compiled_runs = compiled
        st = tr.fit(X, y, sw)
        got.append((tr.model.params.copy(), [h["loss"] for h in st.history]))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-12)


def test_one_trainer_fits_with_and_without_weights_and_takes_1d_targets():
    # the batch buffers follow the arrays a fit brings; 1-D targets read as (n, 1)
    X, y, sw = _data(80, BINARY, weights=True, dtype=np.float64)
    runs = [(None, y), (sw, y[:, 0]), (None, y[:, 0]), (sw, y)]
    cfg = dict(epochs=2, batch_size=16, lr=0.01, seed=2, optimizer="sgd")   # no state
    tr = Trainer(_net(BINARY, dtype="float64"), BINARY, TrainConfig(**cfg))
    for w, t in runs:
        fresh = Trainer(_net(BINARY, dtype="float64"), BINARY, TrainConfig(**cfg))
        fresh.model.params[...] = tr.model.params
        tr.fit(X, t, w)
        fresh.fit(X, y, w)
        assert_bitwise_equal(tr.model.params, fresh.model.params, "weights")


def test_spilled_training_and_validation_rows_are_named_in_refusals():
    X, y, sw = _data(40, BINARY, weights=True)
    spec = {"dense": (np.float32, (5,)), "y": (np.float32, (1,)), "sw": (np.float64, ())}
    with SpillArrays(spec) as s:
        s.append(dense=X.astype(np.float32), y=y.astype(np.float32), sw=sw.astype(np.float64))
        bad = SpilledRows(s, window_rows=8)
        tr = Trainer(_net(BINARY), BINARY, TrainConfig(epochs=1))
        with pytest.raises(TrainingError, match="^the spilled training rows' sw array"):
            tr.fit(bad)
        with pytest.raises(TrainingError, match="^the spilled validation rows' sw array"):
            tr.fit(X, y, X_val=bad)
