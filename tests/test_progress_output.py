"""What `neuralcli train` shows while it trains and when a signal stops it: a line per
epoch off a terminal, losses marked when they are on a standardized target, a live view
that fits the terminal's width, and an interruption said once."""
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

import neuralcli
from neuralcli.cli import cli

# small and quick: one batch an epoch on the built-in spirals, every planned epoch run
QUICK = ["--hidden", "4", "--batch-size", "0", "--no-early-stopping"]
CONTROL = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
# the children start in the folder holding the package this test imported: `-c` puts the
# working directory first on sys.path, where a source tree's uncompiled package would win
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(neuralcli.__file__)))
MAIN = ("import sys\n"
        "from neuralcli.cli import main\n"
        "sys.argv[0] = 'neuralcli'\n"
        "main()\n")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def epoch_lines(stderr):
    """(epoch, planned epochs, the line) of each progress line."""
    found = []
    for line in stderr.splitlines():
        m = re.match(r"epoch +(\d+)/(\d+)  ", line)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), line))
    return found


@pytest.fixture(scope="module")
def regression_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "reg.csv"
    assert run("datasets", "regression", "--rows", "300", "-o", path).exit_code == 0
    return path


# ------------------------------------------------------------------ off a terminal

def test_every_epoch_has_a_line_off_a_terminal(tmp_path):
    result = run("train", "--epochs", "300", *QUICK, "-o", tmp_path / "s.ncm")
    assert result.exit_code == 0, result.stderr
    lines = epoch_lines(result.stderr)
    assert [e for e, _, _ in lines] == list(range(1, 301)), result.stderr[-500:]
    assert {total for _, total, _ in lines} == {300}


def test_a_run_of_more_than_1000_epochs_has_lines_at_even_intervals(tmp_path):
    result = run("train", "--epochs", "2500", *QUICK, "-o", tmp_path / "s.ncm")
    assert result.exit_code == 0, result.stderr
    # every ceil(2500 / 1000) = 3rd epoch, the first and the last
    assert [e for e, _, _ in epoch_lines(result.stderr)] == \
        [1] + list(range(3, 2500, 3)) + [2500]


def test_a_run_that_stops_early_has_a_line_for_its_last_epoch(tmp_path):
    result = run("train", "--epochs", "5000", "--hidden", "4", "--batch-size", "0",
                 "--json", "-o", tmp_path / "s.ncm")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["stop_reason"] == "early_stopping"
    ran = summary["epochs_run"]
    seen = [e for e, _, _ in epoch_lines(result.stderr)]
    assert seen == [1] + list(range(5, ran + 1, 5)) + ([ran] if ran % 5 else [])


def test_regression_losses_are_marked_standardized(tmp_path, regression_csv):
    result = run("train", regression_csv, "--epochs", "4", "--hidden", "8", "-o",
                 tmp_path / "r.ncm")
    assert result.exit_code == 0, result.stderr
    lines = epoch_lines(result.stderr)
    assert [e for e, _, _ in lines] == [1, 2, 3, 4]
    for _, _, line in lines:
        assert re.search(r"  loss\(std\) \d+\.\d{4}  val_loss\(std\) \d+\.\d{4}  "
                         r"val_r2 -?\d+\.\d{4}  ", line), line
        assert not re.search(r"\bloss \d", line), line
    # the summary says the same of its losses
    assert "loss (standardized)" in result.stdout


def test_classification_losses_are_not_marked(tmp_path):
    result = run("train", "--epochs", "3", *QUICK, "-o", tmp_path / "s.ncm")
    assert result.exit_code == 0, result.stderr
    for _, _, line in epoch_lines(result.stderr):
        assert "(std)" not in line and re.search(r"  loss \d+\.\d{4}  acc ", line), line


def test_an_interrupt_before_an_epoch_is_reported_still_shows_it(tmp_path, monkeypatch):
    from neuralcli import schedules

    def observe(self, epoch, monitored):
        # after the epoch is in the history, before the progress callback hears of it
        if epoch + 1 == 7:
            raise KeyboardInterrupt

    monkeypatch.setattr(schedules.Schedule, "observe", observe)
    result = run("train", "--epochs", "50", *QUICK, "-o", tmp_path / "s.ncm")
    assert result.exit_code == 130, result.stderr
    assert [e for e, _, _ in epoch_lines(result.stderr)] == list(range(1, 8))
    assert "interrupted in epoch 8" in result.stdout


def test_an_interrupt_in_the_first_epoch_saves_nothing_and_says_so_once(tmp_path,
                                                                         monkeypatch):
    from neuralcli import training

    def step(self, *a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(training.Trainer, "step", step)
    out = tmp_path / "s.ncm"
    result = run("-q", "train", "--epochs", "50", "-o", out)
    assert result.exit_code == 130
    assert result.stderr == ("warning: interrupted in epoch 1, before it ended: no model "
                             "was saved\n")
    assert result.stdout == "" and not out.exists()


# ------------------------------------------------------------------ on a terminal

def live_output(args, columns):
    """stderr of `neuralcli train ARGS` on a pseudo-terminal `columns` wide, without its
    control sequences, cut at every carriage return and newline; and the exit code."""
    import pty

    master, slave = pty.openpty()
    env = dict(os.environ, COLUMNS=str(columns), LINES="24", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "train", *map(str, args)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave,
                            env=env, cwd=ROOT)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the terminal closed with the process
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif proc.poll() is not None:
                break
        proc.stdout.read()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        os.close(master)
    text = CONTROL.sub("", b"".join(chunks).decode("utf-8", "replace"))
    return [p.rstrip() for p in re.split(r"[\r\n]", text) if p.strip()], proc.returncode


def progress_frames(pieces):
    return [p for p in pieces if re.match(r"(epoch|batch) +\d+/\d+ ", p)]


@pytest.mark.parametrize("columns", [60, 80, 120])
def test_the_live_view_fits_the_terminal(tmp_path, columns):
    pieces, code = live_output(["--epochs", "300", "--hidden", "16", "--no-early-stopping",
                                "-o", tmp_path / "s.ncm"], columns)
    assert code == 0, pieces
    frames = progress_frames(pieces)
    assert frames and frames[-1].startswith("epoch 300/300 ━"), pieces
    for piece in pieces:
        assert len(piece) <= columns and "\u2026" not in piece, piece
    last = frames[-1]
    assert "loss 0." in last and "val_loss 0." in last
    if columns >= 80:
        assert "val_acc " in last
    if columns >= 120:
        assert re.search(r"acc \d\.\d{4} ", last), last


def test_the_live_view_marks_standardized_losses(tmp_path, regression_csv):
    pieces, code = live_output([regression_csv, "--epochs", "30", "--batch-size", "16",
                                "-o", tmp_path / "r.ncm"], 80)
    assert code == 0, pieces
    frames = progress_frames(pieces)
    assert "loss(std) " in frames[-1] and "val_loss(std) " in frames[-1], frames[-1]
    for frame in frames:
        assert not re.search(r"\bloss \d", frame), frame


def render_view(width, epochs, batches, logs, *, scaled=False, batch=(0, None)):
    """The frame the live training view draws on a terminal `width` columns wide, in the
    middle of an epoch (with its eta and batch bar)."""
    from rich.console import Console as RichConsole

    from neuralcli.cli.console import _RichProgress

    buf = io.StringIO()
    console = RichConsole(width=width, force_terminal=True, file=buf,
                          color_system="truecolor")
    with _RichProgress(console, epochs, batches) as display:
        display.epoch(logs, scaled=scaled)
        display.batch(logs["epoch"] + 1, batch[0], batch[1], scaled=scaled)
        display.live.refresh()
        drawn = buf.getvalue()
    return [ln.rstrip() for ln in re.split(r"[\r\n]", CONTROL.sub("", drawn))
            if f"{logs['epoch']}/{epochs} " in ln or f"{batch[0]}/{batches} " in ln]


CLASSES = {"epoch": 123, "loss": 0.41234, "accuracy": 0.8125, "val_loss": 0.39812,
           "val_accuracy": 0.82}
VALUES = {"epoch": 123, "loss": 12.41234, "val_loss": 10.39812, "val_r2": -0.6512}


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("logs,scaled", [(CLASSES, False), (VALUES, True)])
def test_the_live_view_drops_figures_rather_than_cut_them(width, logs, scaled):
    lines = render_view(width, 300, 13, logs, scaled=scaled, batch=(7, 0.40511))
    epoch = [ln for ln in lines if ln.startswith("epoch ")]
    assert epoch and all(ln.startswith("epoch 123/300 ━") for ln in epoch), lines
    batch = [ln for ln in lines if ln.startswith("batch ")]
    assert batch and all(ln.startswith("batch  7/13   ━") for ln in batch), lines
    for line in lines:
        assert len(line) <= width and "\u2026" not in line, (width, line)
    frame = epoch[-1]
    loss = "loss(std)" if scaled else "loss"
    assert re.search(rf"━ {re.escape(loss)} \d+\.\d{{3,4}} .*\d:\d\d(<| eta )\d:\d\d$",
                     frame), frame
    # each figure whole, with its name
    for name, value in re.findall(r"([a-z][a-z_0-9]*(?:\(std\))?) (-?\d+\.\d+)", frame):
        key = {"loss(std)": "loss", "val_loss(std)": "val_loss", "acc": "accuracy",
               "val_acc": "val_accuracy"}.get(name, name)
        assert abs(float(value) - logs[key]) < 6e-4, (name, value)
    if width >= 120:
        assert len(re.findall(r" -?\d+\.\d{4}\b", frame)) == len(logs) - 1, frame
    if width >= 80:
        assert "val_loss" in frame


# ------------------------------------------------------------------ signals

@pytest.mark.parametrize("signame,status,word", [("SIGINT", 130, "interrupted"),
                                                ("SIGTERM", 143, "terminated (SIGTERM)")])
def test_a_signal_is_reported_once(tmp_path, signame, status, word):
    out = tmp_path / "m.ncm"
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "train", "--epochs", "100000",
                             "--no-early-stopping", "-o", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        head = []
        deadline = time.monotonic() + 120
        # the first epoch line: training is under way and an epoch has ended
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            head.append(line)
            if not line or line.startswith("epoch "):
                break
        assert head[-1].startswith("epoch "), "".join(head)
        time.sleep(0.5)
        proc.send_signal(getattr(signal, signame))
        stdout, rest = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = "".join(head) + rest
    both = stdout + stderr
    assert proc.returncode == status, (stdout, stderr)
    assert "Traceback" not in both and "error:" not in stderr, stderr
    # said once: where it stopped, the weights kept, where they went
    stops = re.findall(rf"{re.escape(word)} in epoch (\d+)", both)
    assert len(stops) == 1 and both.count(" in epoch ") == 1, both
    kept = re.findall(r"kept the weights of epoch (\d+), the best by val_loss", both)
    assert len(kept) == 1, both
    assert re.search(rf"model +{re.escape(str(out))}\n", stdout), stdout
    assert stdout.count("interrupted") + stdout.count("terminated") == 1, stdout
    # the last progress line is the last epoch that ended
    lines = epoch_lines(stderr)
    assert lines[-1][0] == int(stops[0]) - 1, stderr[-300:]
    from neuralcli.model import TrainedModel

    model = TrainedModel.load(str(out))
    assert model.info["best_epoch"] == int(kept[0])
    assert len(model.history) == int(stops[0]) - 1


@pytest.mark.parametrize("signame,status,word", [("SIGINT", 130, "interrupted"),
                                                ("SIGTERM", 143, "terminated (SIGTERM)")])
def test_a_signal_as_the_model_is_saved_is_reported_once(tmp_path, signame, status, word):
    out = tmp_path / "m.ncm"
    # the signal comes as the save begins, after training has ended on its own
    code = ("import os, signal\n"
            "from neuralcli.model import TrainedModel\n"
            "real = TrainedModel.save\n"
            "def save(self, path):\n"
            f"    os.kill(os.getpid(), signal.{signame})\n"
            "    real(self, path)\n"
            "TrainedModel.save = save\n" + MAIN)
    r = subprocess.run([sys.executable, "-c", code, "train", "--epochs", "3", *QUICK,
                        "-o", str(out)], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert r.returncode == status, (r.stdout, r.stderr)
    assert "error:" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert "Trained a binary model: ran all 3 epochs\n" in r.stdout
    said = f"{word} as the model was being saved; it was saved whole"
    assert (r.stdout + r.stderr).count(word) == 1 and said in r.stdout, r.stdout
