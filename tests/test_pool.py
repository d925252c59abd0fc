"""The core's thread pool: every unit once, slots private to one thread, nested and
concurrent calls, thread-count changes, fork, and results independent of the thread
count."""
import threading
import warnings

import numpy as np
import pytest

import neuralcli
from neuralcli import _kernels, kernels
from neuralcli.datasets import spirals
from neuralcli.estimators import MLPClassifier
from helpers import run_python


def _probe(units, max_threads, spin=0, nested=False):
    hits = np.zeros(units, np.int64)
    slots = np.full(units, -1, np.int32)
    bad, workers = _kernels.pool_probe(hits, slots, max_threads, spin, nested)
    return hits, slots, bad, workers


@pytest.mark.parametrize("nt", [1, 2, 3, 4])
@pytest.mark.parametrize("units", [1, 3, 1000, 100_000])
def test_every_unit_runs_once_on_a_slot_of_its_own(nt, units, threads):
    threads(nt)
    for _ in range(3):
        hits, slots, bad, _ = _probe(units, nt, spin=200 if units <= 1000 else 0)
        assert bad == 0, f"{bad} slot violations"
        assert (hits == 1).all(), f"units run {hits.min()}..{hits.max()} times"
        assert slots.min() >= 0 and slots.max() < nt


def test_more_units_than_one_job_word_counts(threads):
    # past 2**20 units a claim takes a run of consecutive units
    threads(2)
    hits, slots, bad, _ = _probe((1 << 20) + 12345, 2)
    assert bad == 0 and (hits == 1).all() and slots.max() <= 1


def test_max_threads_below_the_setting_limits_the_slots(threads):
    threads(4)
    hits, slots, bad, _ = _probe(2000, 2, spin=300)
    assert bad == 0 and (hits == 1).all()
    assert set(np.unique(slots)) <= {0, 1}


@pytest.mark.parametrize("nt", [1, 2, 4])
def test_nested_call_runs_inline(nt, threads):
    threads(nt)
    hits, _, bad, _ = _probe(500, nt, spin=100, nested=True)
    assert bad == 0 and (hits == 1).all()


def test_thread_count_changes_between_jobs(threads):
    for nt in (4, 1, 3, 2, 4, 1):
        threads(nt)
        hits, slots, bad, workers = _probe(3000, nt, spin=100)
        assert bad == 0 and (hits == 1).all()
        assert slots.max() < nt
        # workers are started when first needed and kept
        assert workers >= 3


def test_workers_start_lazily():
    code = (
        "import numpy as np, neuralcli\n"
        "from neuralcli import _kernels\n"
        "h = np.zeros(100, np.int64); s = np.zeros(100, np.int32)\n"
        "neuralcli.set_num_threads(1)\n"
        "a = _kernels.pool_probe(h, s, 1)[1]\n"
        "neuralcli.set_num_threads(3)\n"
        "b = _kernels.pool_probe(h, s, 2)[1]\n"
        "c = _kernels.pool_probe(h, s, 3)[1]\n"
        "print(a, b, c, int(h.min()), int(h.max()))\n"
    )
    out = run_python(code, check=True, timeout=120)
    assert out.stdout.split() == ["0", "1", "2", "3", "3"]


FORK = r"""
import os, sys, time
import numpy as np, neuralcli
from neuralcli import _kernels, kernels
neuralcli.set_num_threads(2)
rng = np.random.default_rng(0)
a = rng.standard_normal((300, 200)).astype(np.float32)
b = rng.standard_normal((200, 300)).astype(np.float32)
want = kernels.gemm(a, b)                  # starts the parent's workers
h = np.zeros(5000, np.int64); s = np.zeros(5000, np.int32)
assert _kernels.pool_probe(h, s, 2, 100)[0] == 0
# a CSV of a few MB is parsed in several chunks on both threads, before and after fork
from neuralcli.reader import read_table
import tempfile
path = os.path.join(tempfile.mkdtemp(), "f.csv")
x = rng.standard_normal((60000, 4))
np.savetxt(path, x, delimiter=",", fmt="%.6f", header="a,b,c,d", comments="")
first = read_table(path, threads=2).column("a").values.copy()
assert np.allclose(first, x[:, 0], atol=1e-6)
pid = os.fork()
if pid == 0:
    ok = True
    for _ in range(20):
        h[:] = 0
        bad, workers = _kernels.pool_probe(h, s, 2, 100)
        ok &= bad == 0 and bool((h == 1).all()) and workers == 1
        ok &= kernels.gemm(a, b).tobytes() == want.tobytes()
    for _ in range(3):
        ok &= read_table(path, threads=2).column("a").values.tobytes() == first.tobytes()
    os._exit(0 if ok else 1)
deadline = time.monotonic() + 60
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        print("child hung"); sys.exit(3)
    time.sleep(0.01)
h[:] = 0
assert _kernels.pool_probe(h, s, 2, 100)[0] == 0 and (h == 1).all()
print("child", os.waitstatus_to_exitcode(status))
"""


def test_child_after_fork_uses_its_own_pool():
    # the child computes and reads a CSV on threads of its own, never hanging on the
    # parent's, which fork() did not copy
    out = run_python(FORK, timeout=180)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == "child 0"


def test_concurrent_callers_get_the_same_bits(threads):
    # a second application thread finds the pool owned and runs its units inline
    threads(2)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((257, 300)).astype(np.float32)
    b = rng.standard_normal((300, 190)).astype(np.float32)
    want = kernels.gemm(a, b).tobytes()
    got, errors = [], []

    def run():
        try:
            for _ in range(30):
                got.append(kernels.gemm(a, b).tobytes())
        except Exception as e:  # surfaced below
            errors.append(e)

    ts = [threading.Thread(target=run) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors
    assert len(got) == 90 and all(g == want for g in got)


@pytest.mark.parametrize("m,n,k", [(5, 7, 3), (64, 64, 64), (300, 129, 257), (1000, 1, 200),
                                   (130, 600, 700)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_bits_equal_at_one_to_four_threads(m, n, k, dtype, threads):
    rng = np.random.default_rng(m + n + k)
    a = rng.standard_normal((k, m)).astype(dtype).T  # transposed view: trans_a path
    b = rng.standard_normal((k, n)).astype(dtype)
    runs = []
    for nt in (1, 2, 3, 4):
        threads(nt)
        runs.append((kernels.gemm(a, b).tobytes(), kernels.gemm(a.T, b, trans_a=True)
                     .tobytes()))
    assert all(r == runs[0] for r in runs[1:])


@pytest.mark.parametrize("hidden", [(16,), (256, 128)])
def test_training_bits_equal_at_one_to_four_threads(hidden):
    X, y, *_ = spirals(n=700)
    X = np.hstack([X, np.sin(X * 3), np.cos(X * 5)])
    runs = []
    for nt in (1, 2, 3, 4):
        clf = MLPClassifier(hidden, max_iter=4, random_state=3, n_threads=nt, batch_size=350,
                            alpha=1e-3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf.fit(X, y)
        runs.append(clf._model.params.tobytes())
    assert all(r == runs[0] for r in runs[1:])
    assert neuralcli.get_num_threads() >= 1
