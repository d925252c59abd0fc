"""Data-parallel training over MPI (neuralcli.distributed), launched with the real mpirun
of the neuralcli[mpi] extra from subprocesses: repeatable runs, weights close to one
process's, every rank's weights the same at each epoch end, and failures (a bad cell in
one rank's rows, a killed rank) that end the whole job quickly with one line."""
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import run_python
from neuralcli import distributed
from neuralcli.cli import cli

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "mpi_worker.py")
# the parts of one process's run that the ranks' runs reproduce up to the order of float
# additions; see test_close_to_one_process
RTOL = 1e-4


def _mpirun():
    """The mpirun beside this Python (the Open MPI wheel's), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpirun")
    return here if os.access(here, os.X_OK) else shutil.which("mpirun")


def _need_mpi():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip('mpi4py is not installed (pip install "neuralcli[mpi]")')
    if _mpirun() is None:
        pytest.skip('mpirun is not installed (pip install "neuralcli[mpi]")')


def _root():
    """The directory holding the neuralcli this test imported: the processes start there
    (as helpers.run_python's do), so that `python -c` in an unpacked sdist imports the
    installed package, not the uncompiled source beside the tests."""
    import neuralcli

    return os.path.dirname(os.path.dirname(os.path.abspath(neuralcli.__file__)))


def _env():
    env = {k: v for k, v in os.environ.items() if k not in distributed.LAUNCH_VARIABLES}
    env["PYTHONPATH"] = _root() + os.pathsep + env.get("PYTHONPATH", "")
    # Open MPI refuses root without these (CI runs as root); one core each is enough
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", NEURALCLI_NUM_THREADS="1")
    return env


def mpirun(n, *args, timeout=120, logs=None):
    """mpirun's run of args to its end; or, with logs (a directory), the started
    process, its output going to files there (read with _logs): a pipe nobody reads
    while the test waits would stall the ranks' output, and the ranks with it."""
    cmd = [_mpirun(), "--oversubscribe", "-n", str(n), sys.executable, *map(str, args)]
    if logs is not None:
        with open(os.path.join(logs, "stdout"), "w") as out, \
                open(os.path.join(logs, "stderr"), "w") as err:
            return subprocess.Popen(cmd, env=_env(), cwd=_root(), stdout=out, stderr=err)
    return subprocess.run(cmd, env=_env(), cwd=_root(), capture_output=True, text=True,
                          timeout=timeout)


def _logs(logs):
    """(stdout, stderr) of an mpirun started with logs."""
    with open(os.path.join(logs, "stdout")) as out, open(os.path.join(logs, "stderr")) as err:
        return out.read(), err.read()


def neuralcli_args(*args):
    """mpirun's arguments for the neuralcli command in this test's Python."""
    return ("-c", "from neuralcli.cli import main; main()", *args)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """1,200 rows of a binary task with a text column, the target last."""
    rng = np.random.default_rng(3)
    n = 1200
    X = rng.normal(size=(n, 4))
    y = X[:, 0] + X[:, 1] * X[:, 2] > 0
    path = tmp_path_factory.mktemp("mpi") / "data.csv"
    with open(path, "w") as f:
        f.write("a,b,c,d,color,label\n")
        for i in range(n):
            f.write(",".join(f"{v:.6f}" for v in X[i]) +
                    f",{'rgb'[i % 3]},{'yes' if y[i] else 'no'}\n")
    return path


def _one_process(path, epochs, batch, seed, val_split):
    from neuralcli.model import Settings, TrainedModel
    from neuralcli.reader import Scan

    settings = Settings(hidden=[16, 16], epochs=epochs, batch_size=batch, seed=seed,
                        val_split=val_split, early_stopping=False)
    with Scan(str(path)) as scan:
        return TrainedModel.fit_file(scan, settings, threads=1)


def _worker(n, path, prefix, epochs=3, batch=64, seed=5, val_split=0.2, *more):
    result = mpirun(n, WORKER, path, prefix, epochs, batch, seed, val_split, *more)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = []
    for r in range(n):
        with open(f"{prefix}.{r}.json") as f:
            reports.append(json.load(f))
    return reports, np.load(f"{prefix}.npy")


# ------------------------------------------------------------------ without MPI


def test_launch_detected_from_the_launchers_environment():
    assert not distributed.launched({"PATH": "/bin"})
    for name in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "MV2_COMM_WORLD_SIZE"):
        assert distributed.launched({name: "2"})


def test_a_plain_run_never_imports_mpi4py(data, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in distributed.LAUNCH_VARIABLES}
    code = (f"import sys\nfrom neuralcli.cli import main\n"
            f"try:\n    main(['train', {str(data)!r}, '--epochs', '1', '-o', "
            f"{str(tmp_path / 'm.ncm')!r}])\nexcept SystemExit as e:\n"
            f"    assert e.code in (0, None), e.code\n"
            f"print('imported:', 'mpi4py' in sys.modules)")
    result = run_python(code, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "imported: False"


def test_distributed_without_mpi4py_says_which_extra(data, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)   # import mpi4py fails
    result = CliRunner().invoke(cli, ["train", str(data), "--distributed", "-o",
                                      str(tmp_path / "m.ncm")])
    assert result.exit_code == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and 'pip install "neuralcli[mpi]"' in errors[0], result.stderr
    assert not (tmp_path / "m.ncm").exists()


def test_shard_rows_cut_every_global_batch_as_one_process_does():
    """The rows each rank takes from each global batch, put together, are that batch."""
    from neuralcli.training import _Rows

    n, bs = 23, 5
    y = np.arange(n, dtype=np.int32)
    whole = [b["y"].copy() for b in _Rows(y=y).batches(bs, np.random.default_rng(1), True)]
    for size in (2, 3, 30):
        parts = []
        for r in range(size):
            lo, hi = r * n // size, (r + 1) * n // size
            rows = distributed.ShardRows(lo, n, y=y[lo:hi])
            assert len(rows) == n
            parts.append([b["y"].copy() for b in rows.batches(bs, np.random.default_rng(1), True)])
        for b, want in enumerate(whole):
            got = np.concatenate([p[b] for p in parts])
            assert sorted(got.tolist()) == sorted(want.tolist())


# ------------------------------------------------------------------ under mpirun


def test_repeatable_and_identical_across_ranks(data, tmp_path):
    """Two runs of 2 ranks: the same weights, bit for bit; within a run every rank's
    weights hash the same at every epoch end."""
    _need_mpi()
    first, w1 = _worker(2, data, tmp_path / "a")
    second, w2 = _worker(2, data, tmp_path / "b")
    assert w1.tobytes() == w2.tobytes()
    for reports in (first, second):
        assert [r["rank"] for r in reports] == [0, 1]
        assert len(reports[0]["epoch_hashes"]) == 3
        for r in reports[1:]:
            assert r["epoch_hashes"] == reports[0]["epoch_hashes"]
            assert r["final"] == reports[0]["final"]
            assert r["history"] == reports[0]["history"]
    assert first[0]["history"] == second[0]["history"]
    assert first[0]["final"] == hashlib.sha256(w1.tobytes()).hexdigest()


@pytest.mark.parametrize("n", [2, 3])
def test_close_to_one_process(data, tmp_path, n):
    """N ranks with the same global batch and seed follow one process's run: each step
    draws the same permutation and sums the same rows' gradients, only in another order
    (each rank's part in float32, the parts added in float64), a difference of about one
    float32 rounding (1e-7 relative) per step that a few epochs of Adam carry along
    without amplifying it past RTOL. Every rank also agrees at each epoch end."""
    _need_mpi()
    reports, weights = _worker(n, data, tmp_path / "w")
    model, state = _one_process(data, 3, 64, 5, 0.2)
    want = model.net.params.astype(np.float64)
    err = np.max(np.abs(weights.astype(np.float64) - want)) / np.max(np.abs(want))
    assert err < RTOL, f"max difference {err:.3e} of the largest weight"
    assert weights.tobytes() != b"" and err >= 0
    assert reports[0]["rows_train"] == model.info["rows_train"] == 960
    assert reports[0]["rows_val"] == model.info["rows_val"] == 240
    for got, one in zip(reports[0]["history"], state.history):
        assert got["loss"] == pytest.approx(one["loss"], rel=1e-4)
        assert got["val_loss"] == pytest.approx(one["val_loss"], rel=1e-4)
        # an accuracy counts rows: at most a row or two near the boundary may differ
        assert abs(got["val_accuracy"] - one["val_accuracy"]) <= 2 / 240
    for r in reports[1:]:
        assert r["epoch_hashes"] == reports[0]["epoch_hashes"]


def test_more_ranks_than_batches_and_a_rank_without_rows(tmp_path):
    """3 ranks, 2 training rows in one batch: rank 0 holds no rows and still takes every
    step; the weights match one process's."""
    _need_mpi()
    path = tmp_path / "tiny.csv"
    path.write_text("x,y\n0.5,1.0\n-1.5,2.0\n")
    reports, weights = _worker(3, path, tmp_path / "t", epochs=4, batch=0, val_split=0.0)
    model, _ = _one_process(path, 4, 0, 5, 0.0)
    want = model.net.params.astype(np.float64)
    err = np.max(np.abs(weights.astype(np.float64) - want)) / np.max(np.abs(want))
    assert err < RTOL
    assert [r["rows_train"] for r in reports] == [2, 2, 2]
    # R^2 on the training rows, merged over the ranks (the first holds none)
    assert reports[0]["train_metric"] == pytest.approx(model.info["final"]["train_metric"],
                                                       rel=1e-4, abs=1e-6)
    assert reports[0]["epoch_hashes"] == reports[1]["epoch_hashes"] == \
        reports[2]["epoch_hashes"]


def test_the_command_under_mpirun(data, tmp_path):
    """mpirun -n 2 neuralcli train: the first rank alone reports and writes the model,
    which loads and predicts like any other."""
    _need_mpi()
    out = tmp_path / "m.ncm"
    result = mpirun(2, *neuralcli_args("--no-color", "train", data, "--epochs", "2",
                                       "--hidden", "8", "-o", out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("data: ") == 1, result.stderr
    assert result.stderr.count("epoch 2/2") == 1, result.stderr
    assert result.stdout.count("Trained a binary model") == 1, result.stdout
    assert os.listdir(tmp_path) == ["m.ncm"]      # no temporary file left behind
    from neuralcli.model import TrainedModel

    model = TrainedModel.load(str(out))
    assert model.info["rows_train"] == 960 and len(model.history) == 2


def _second_ranks_rows(data):
    """(a training row, a validation row) of the file, 1-based, that the second of two
    ranks reads: a bad cell in the training row fails every rank's preprocessing pass; in
    the validation row, only the second rank's encoding meets it."""
    from neuralcli.training import validation_split

    labels = np.array([ln.endswith(",yes") for ln in data.read_text().splitlines()[1:]],
                      dtype=np.int64)
    _, val = validation_split(len(labels), 0.2, 0, labels)
    return 1100, int(val[len(val) * 3 // 4]) + 1


@pytest.mark.parametrize("split", ["training", "validation"])
def test_bad_cell_in_one_ranks_rows_ends_every_rank(data, tmp_path, split):
    _need_mpi()
    row = _second_ranks_rows(data)[split == "validation"]
    lines = data.read_text().splitlines()
    cells = lines[row].split(",")
    cells[0] = "oops"
    lines[row] = ",".join(cells)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    result = mpirun(2, *neuralcli_args("--no-color", "train", bad, "--epochs", "2", "-o",
                                       tmp_path / "m.ncm"), timeout=60)
    assert time.monotonic() - t0 < 30
    assert result.returncode == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.stderr
    assert f"row {row}," in errors[0] and '"oops"' in errors[0] and '"a"' in errors[0], \
        errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "m.ncm").exists()
    # one process says the same
    one = CliRunner().invoke(cli, ["train", str(bad), "--epochs", "1", "-o",
                                   str(tmp_path / "one.ncm")])
    assert one.exit_code == 1 and errors[0] in one.stderr


def test_a_killed_rank_ends_the_job(data, tmp_path):
    _need_mpi()
    out = tmp_path / "killed.ncm"
    logs = tmp_path
    proc = mpirun(2, *neuralcli_args("train", data, "--epochs", "100000",
                                     "--no-early-stopping", "-o", out),
                  logs=logs)
    try:
        deadline = time.monotonic() + 60
        victim = _started_rank(1, str(out), deadline)
        time.sleep(1.0)
        t0 = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        proc.wait(timeout=30)
        assert time.monotonic() - t0 < 20
        _, err = _logs(logs)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "rank 1" in err and "signal 9" in err
    assert not out.exists()


def _started_rank(rank, marker, deadline):
    """The pid of that rank's process (see _rank_process), waited for until deadline."""
    while time.monotonic() < deadline:
        time.sleep(0.2)
        pid = _rank_process(rank, marker)
        if pid is not None:
            return pid
    raise AssertionError(f"rank {rank} never started")


def _rank_process(rank, marker):
    """The pid of the MPI process of this rank whose command line holds marker."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if marker.encode() not in f.read():
                    continue
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"OMPI_COMM_WORLD_RANK={rank}".encode() in env:
            return int(pid)
    return None


def test_a_signal_to_one_rank_stops_every_rank_at_the_same_step(data, tmp_path):
    """SIGTERM to the second rank alone (mpirun passes Ctrl-C on as SIGTERM to all):
    every rank stops at the next step's reduction, and the first saves the best model
    so far, as a single run does on Ctrl-C."""
    _need_mpi()
    out = tmp_path / "stopped.ncm"
    logs = tmp_path
    proc = mpirun(2, *neuralcli_args("--no-color", "train", data, "--epochs", "100000",
                                     "--no-early-stopping", "--hidden", "8", "-o", out),
                  logs=logs)
    try:
        deadline = time.monotonic() + 60
        victim = _started_rank(1, str(out), deadline)
        while "/100000" not in _logs(logs)[1] and time.monotonic() < deadline:
            time.sleep(0.2)     # until the first epoch has ended
        os.kill(victim, signal.SIGTERM)
        proc.wait(timeout=60)
        stdout, err = _logs(logs)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode in (130, 143), (proc.returncode, err[-2000:])
    assert "Traceback" not in err
    from neuralcli.model import TrainedModel

    model = TrainedModel.load(str(out))
    assert model.info["stop_reason"] == "interrupted" and len(model.history) >= 1
    assert stdout.count("model") >= 1 and str(out) in stdout.replace("\n", "")


def test_an_unexpected_exception_on_one_rank_aborts_the_job(data, tmp_path):
    """A bug that strikes the second rank alone in its third step, while the first waits
    for it in the reduction: the job ends at once (MPI_Abort) with that rank's line."""
    _need_mpi()
    code = ("import os\n"
            "from neuralcli import distributed\n"
            "step = distributed.DistributedTrainer.step\n"
            "def failing(self, *a, **kw):\n"
            "    if self.comm.rank == 1 and self.state.step == 2:\n"
            "        raise RuntimeError('the third step broke')\n"
            "    return step(self, *a, **kw)\n"
            "distributed.DistributedTrainer.step = failing\n"
            "from neuralcli.cli import main\n"
            "main()\n")
    t0 = time.monotonic()
    result = mpirun(2, "-c", code, "--no-color", "train", data, "--epochs", "5", "-o",
                    tmp_path / "m.ncm", timeout=60)
    assert time.monotonic() - t0 < 30
    assert result.returncode != 0
    # mpirun forwards each rank's stderr beside its own abort notice, and now and then
    # starts the rank's line on the notice's last one: the line is looked for anywhere
    line = "error: rank 1: RuntimeError: the third step broke"
    assert result.stderr.count(line) == 1, result.stderr
    assert result.stderr.count("error:") == 1, result.stderr
    assert not (tmp_path / "m.ncm").exists()


def test_checkpoints_resume_under_mpirun(data, tmp_path):
    """A run checkpointed by one process resumes on 2 ranks, whose first writes the
    checkpoints on; it ends with the weights of one process's unbroken run (to RTOL)."""
    _need_mpi()
    from neuralcli.checkpoint import Checkpoint
    from neuralcli.model import TrainedModel

    ck = tmp_path / "run.ckpt"
    common = ["--hidden", "8", "--no-early-stopping", "--threads", "1"]
    first = CliRunner().invoke(cli, ["train", str(data), "--epochs", "2", *common,
                                     "--checkpoint", str(ck), "-o", str(tmp_path / "a.ncm")])
    assert first.exit_code == 0, first.stderr
    whole = CliRunner().invoke(cli, ["train", str(data), "--epochs", "4", *common, "-o",
                                     str(tmp_path / "c.ncm")])
    assert whole.exit_code == 0, whole.stderr
    result = mpirun(2, *neuralcli_args("--no-color", "train", "--resume", ck, "--epochs", "4",
                                       "-o", tmp_path / "b.ncm"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr.count("resuming the run") == 1, result.stderr
    resumed = TrainedModel.load(str(tmp_path / "b.ncm"))
    want = TrainedModel.load(str(tmp_path / "c.ncm")).net.params.astype(np.float64)
    err = np.max(np.abs(resumed.net.params - want)) / np.max(np.abs(want))
    assert err < RTOL, f"max difference {err:.3e} of the largest weight"
    assert len(resumed.history) == 4
    assert Checkpoint.read(str(ck)).state.epoch == 4
    assert sorted(os.listdir(tmp_path)) == ["a.ncm", "b.ncm", "c.ncm", "run.ckpt"]


# ------------------------------------------------------------------ reading in byte ranges


def _worker_reads(n, path, prefix, ranges, epochs=2, batch=64, seed=5, val_split=0.2):
    return _worker(n, path, prefix, epochs, batch, seed, val_split, int(ranges))


def _one_process_digest(path, **kw):
    from mpi_worker import preprocessing_digest

    model, _ = _one_process(path, kw.get("epochs", 2), kw.get("batch", 64), kw.get("seed", 5),
                            kw.get("val_split", 0.2))
    return preprocessing_digest(model.pre), model


@pytest.mark.parametrize("n", [2, 3])
def test_each_rank_parses_only_its_byte_range(data, tmp_path, n):
    """Counted at the parser's input: the ranks' bytes add up to the file once, each
    about a 1/n share, and their rows to the file's rows; every rank every byte when
    each reads the whole file. The preprocessing is one process's, bit for bit."""
    _need_mpi()
    size = os.path.getsize(data)
    longest = max(len(ln) + 1 for ln in data.read_text().splitlines())
    shares, _ = _worker_reads(n, data, tmp_path / "r", True)
    wholes, _ = _worker_reads(n, data, tmp_path / "w", False)
    got = [r["parsed"]["bytes"] for r in shares]
    assert sum(got) == size, got
    assert all(abs(b - size / n) <= longest + 1 for b in got), (got, size)
    assert sum(r["parsed"]["rows"] for r in shares) == 1200
    assert all(0 < r["parsed"]["rows"] < 1200 for r in shares)
    assert [r["parsed"]["bytes"] for r in wholes] == [size] * n
    digest, _ = _one_process_digest(data)
    assert {r["preprocessing"] for r in shares + wholes} == {digest}


@pytest.mark.parametrize("n", [2, 3])
def test_same_model_as_every_rank_reading_the_whole_file(data, tmp_path, n):
    """Ranks that read their byte ranges, then move the encoded rows to their blocks, hold
    the rows they would hold had each read the whole file, encoded alike: the same
    weights at every epoch end, bit for bit."""
    _need_mpi()
    shares, w1 = _worker_reads(n, data, tmp_path / "r", True, epochs=3)
    wholes, w2 = _worker_reads(n, data, tmp_path / "w", False, epochs=3)
    assert w1.tobytes() == w2.tobytes()
    for a, b in zip(shares, wholes):
        assert a["epoch_hashes"] == b["epoch_hashes"] and a["history"] == b["history"]
        assert (a["rows_train"], a["rows_val"]) == (b["rows_train"], b["rows_val"]) == \
            (960, 240)


def _multiline_file(path, n=300):
    """n rows whose text cells are quoted and span several lines (with a delimiter and a
    doubled quote in them): most bytes of the file lie inside quoted fields. Returns the
    (start, end) of each quoted field, in bytes."""
    rng = np.random.default_rng(11)
    texts = ['"first\nsecond, with a comma\nthird"', '"a ""quoted"" word\n\nafter a blank line"',
             '"' + "x" * 40 + '\n' + "y" * 40 + '"', '"short\n"']
    fields, out = [], ["num,text,other,label\n"]
    at = len(out[0])
    for i in range(n):
        x, z = rng.normal(size=2)
        k = i % len(texts)
        head = f"{x:.5f},"
        fields.append((at + len(head), at + len(head) + len(texts[k])))
        line = f"{head}{texts[k]},{z:.5f},{'yes' if x + (k == 2) > 0.3 else 'no'}\n"
        out.append(line)
        at += len(line)
    path.write_text("".join(out))
    return fields


def test_three_ranks_cut_inside_quoted_fields_that_span_lines(tmp_path):
    """Each cut point (r * size / 3) falls inside a quoted field holding line ends: the
    ranks still split the file at record starts, every record is read once, and the
    model is the one every rank reading the whole file trains."""
    _need_mpi()
    path = tmp_path / "multiline.csv"

    def inside(fields, size):
        data = path.read_bytes()
        return all(any(a < cut < b and b"\n" in data[a:cut] for a, b in fields)
                   for cut in (size // 3, 2 * size // 3))

    # the first row count from 300 on that puts both cut points past a line end inside
    # a quoted field
    for n in range(300, 400):
        fields = _multiline_file(path, n)
        size = os.path.getsize(path)
        if inside(fields, size):
            break
    assert inside(fields, size)
    shares, w1 = _worker_reads(3, path, tmp_path / "r", True, val_split=0.25)
    wholes, w2 = _worker_reads(3, path, tmp_path / "w", False, val_split=0.25)
    assert sum(r["parsed"]["rows"] for r in shares) == n
    assert sum(r["parsed"]["bytes"] for r in shares) == size
    assert w1.tobytes() == w2.tobytes()
    assert shares[0]["history"] == wholes[0]["history"]
    digest, _ = _one_process_digest(path, val_split=0.25)
    assert {r["preprocessing"] for r in shares} == {digest}


def test_a_rank_whose_byte_range_holds_no_record(tmp_path):
    """A tiny file whose header is most of its bytes: with 3 ranks the first two cuts
    fall in the header, so two ranks parse no record (the first reads only the header)
    and the third all the rows; training goes on as every rank reading the whole file."""
    _need_mpi()
    path = tmp_path / "tiny.csv"
    names = [f"a_rather_long_column_name_{k}_" + "x" * 50 for k in range(4)] + ["y"]
    rows = [f"{i % 3},{i * 0.5},{(i * 7) % 5},{i % 2},{i * 0.25 + 1}" for i in range(8)]
    path.write_text(",".join(names) + "\n" + "\n".join(rows) + "\n")
    shares, w1 = _worker_reads(3, path, tmp_path / "r", True, val_split=0, batch=4)
    wholes, w2 = _worker_reads(3, path, tmp_path / "w", False, val_split=0, batch=4)
    assert [r["parsed"]["rows"] for r in shares] == [0, 0, 8]
    assert w1.tobytes() == w2.tobytes()
    assert shares[0]["rows_train"] == 8
    digest, _ = _one_process_digest(path, val_split=0)
    assert {r["preprocessing"] for r in shares} == {digest}


def test_a_bad_record_in_the_second_ranks_range_names_its_line(tmp_path):
    """A record with a field too many in the middle third of a file of multi-line rows:
    all 3 ranks end at once with the one line a single process gives, naming the file's
    line (not the line within the rank's range)."""
    _need_mpi()
    path = tmp_path / "multiline.csv"
    _multiline_file(path)
    text = path.read_text()
    at = text.index("\n", len(text) // 2)
    while text[at + 1] == '"' or not text[at + 1].isdigit() and text[at + 1] != "-":
        at = text.index("\n", at + 1)
    # the record starting after `at` gets a field more
    end = text.index(",", at + 1)
    bad = tmp_path / "bad.csv"
    bad.write_text(text[:end] + ",extra" + text[end:])
    line = text[:at + 1].count("\n") + 1
    t0 = time.monotonic()
    result = mpirun(3, *neuralcli_args("--no-color", "train", bad, "--epochs", "1", "-o",
                                       tmp_path / "m.ncm"), timeout=60)
    assert time.monotonic() - t0 < 30
    assert result.returncode == 1
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f"line {line}" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    one = CliRunner().invoke(cli, ["train", str(bad), "--epochs", "1", "-o",
                                   str(tmp_path / "one.ncm")])
    assert one.exit_code == 1 and errors[0] in one.stderr, (errors, one.stderr)


def test_a_column_of_numbers_in_one_range_and_text_in_another(tmp_path):
    """Column "code" holds numbers, but words in a fifth of the rows, all in the first
    half of the file and away from where the sniffer looks, which guesses numbers: read
    alone, the first range would be text (40% words) and the second numbers; typed on the
    counts of both (20% words: text), every rank reads its range again as text, as one
    process reads the file again, the categories in the file's order of first
    appearance."""
    _need_mpi()
    rng = np.random.default_rng(5)
    path = tmp_path / "mixed.csv"
    lines = ["x,code,label"]
    for i in range(60000):
        x = rng.normal()
        code = str(i % 7) if not 10000 <= i < 22000 else ["red", "green", "blue"][i % 3]
        lines.append(f"{x:.5f},{code},{'yes' if x > 0 else 'no'}")
    path.write_text("\n".join(lines) + "\n")
    from neuralcli.reader import Scan

    with Scan(str(path)) as scan:
        whole = scan.read()
        assert scan.sniffed[1] == "number"
    assert whole.data[1].kind == "text"
    shares, w1 = _worker_reads(2, path, tmp_path / "r", True, val_split=0.2, epochs=1,
                               batch=1024)
    wholes, w2 = _worker_reads(2, path, tmp_path / "w", False, val_split=0.2, epochs=1,
                               batch=1024)
    # each rank parsed its range twice (the kind changed), the file's rows once each time
    assert sum(r["parsed"]["rows"] for r in shares) == 2 * 60000
    digest, _ = _one_process_digest(path, val_split=0.2, epochs=1, batch=1024)
    assert {r["preprocessing"] for r in shares + wholes} == {digest}
    assert w1.tobytes() == w2.tobytes()
