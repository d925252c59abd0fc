"""The progress shown while a file is read: nothing for a quick read, one line off a
terminal, a transient bar on one."""
import io

from neuralcli.cli.console import Console


def test_quick_read_shows_nothing():
    err = io.StringIO()
    with Console(color=False, err=err).reading("data.csv", 1000) as r:
        r.update(1000, rows=10)
    assert err.getvalue() == ""


def test_slow_read_off_a_terminal_is_one_line():
    err = io.StringIO()
    with Console(color=False, err=err).reading("data\x1b[2J.csv", 3_000_000, after=0) as r:
        r.update(1_000_000)
        r.update(3_000_000, rows=25_000)
    assert err.getvalue() == "read data\\x1b[2J.csv: 3.0 MB, 25,000 rows in 0.0 s\n"


def test_failed_read_and_quiet_print_nothing():
    err = io.StringIO()
    try:
        with Console(color=False, err=err).reading("data.csv", None, after=0) as r:
            r.update(5)
            raise ValueError("bad row")
    except ValueError:
        pass
    with Console(color=False, err=err, quiet=True).reading("data.csv", None, after=0) as r:
        r.update(5)
    assert err.getvalue() == ""


def test_terminal_bar_is_transient():
    err = io.StringIO()
    with Console(color=True, err=err).reading("data.csv", 100, after=0) as r:
        r.last = -1.0
        r.update(40, rows=4)
        assert r.progress is not None and r.progress.live.is_started
        assert r.progress.tasks[0].completed == 40
    assert not r.progress.live.is_started
