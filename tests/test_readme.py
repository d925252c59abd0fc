"""The README's examples are real output: each `$ neuralcli ...` command in its code blocks
runs in order in one folder (at 100 columns, off a terminal), and the lines it shows must
be the lines the command prints, except for times and rates, which are masked. A `...`
line in the README stands for any number of lines. `bench` is left out: every figure it
prints is a time."""
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from neuralcli import runtime_info

README = Path(__file__).resolve().parents[1] / "README.md"
TIMED = ("neuralcli bench",)
LAUNCH = ("import sys; from neuralcli.cli import main; sys.argv[0] = 'neuralcli'; "
          "sys.exit(main())")

# times, rates and the thread count and path they ran on
MASKS = [
    (re.compile(r"\b\d[\d,]*(\.\d+)? samples/s on \d+ threads? \(\w+\)"), "<rate>"),
    (re.compile(r"\b\d+(\.\d+)? ?s\b"), "<time>"),
]


def examples(text=None):
    """[(command, shown lines)] for every `$ ` line of the README's indented blocks, the
    lines after it up to the next command or the end of the block."""
    lines = (README.read_text() if text is None else text).splitlines()
    found = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith("    $ "):
            i += 1
            continue
        command = lines[i][6:]
        while command.endswith("\\"):
            i += 1
            command = command[:-1].rstrip() + " " + lines[i].strip()
        i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith("    $ ") and \
                (lines[i].startswith("    ") or not lines[i].strip()):
            shown.append(lines[i][4:])
            i += 1
        while shown and not shown[-1].strip():
            shown.pop()
        found.append((command, shown))
    return found


def _mask(line):
    for pattern, text in MASKS:
        line = pattern.sub(text, line)
    return line.rstrip()


def matches(shown, printed):
    """Whether the printed lines are the shown ones, a `...` line standing for any run of
    lines (none included)."""
    shown = [_mask(s) for s in shown]
    printed = [_mask(p) for p in printed]
    memo = {}

    def at(i, j):
        if (i, j) not in memo:
            if i == len(shown):
                memo[i, j] = j == len(printed)
            elif shown[i] == "...":
                memo[i, j] = any(at(i + 1, k) for k in range(j, len(printed) + 1))
            else:
                memo[i, j] = j < len(printed) and shown[i] == printed[j] and at(i + 1, j + 1)
        return memo[i, j]

    return at(0, 0)


def test_examples_are_found():
    commands = [c for c, _ in examples()]
    assert "neuralcli train" in commands and "neuralcli info loan.ncm" in commands
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert matches(["a", "...", "b"], ["a", "b"])
    assert not matches(["a", "...", "d"], ["a", "b", "c"])
    assert not matches(["time 0.2 s", "x"], ["time 0.15 s", "y"])
    assert matches(["time 0.2 s"], ["time 0.15 s"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each example's command and shown lines with its exit code and printed lines."""
    if runtime_info()["isa_detected"] not in ("avx2", "avx512"):
        pytest.skip("the README's figures were made on the avx2 path, which this CPU lacks")
    where = tmp_path_factory.mktemp("readme")
    env = dict(os.environ, COLUMNS="100", PYTHONUNBUFFERED="1", NO_COLOR="1",
               NEURALCLI_ISA="avx2", NEURALCLI_NUM_THREADS="2")
    env.pop("NEURALCLI_SKIP_REPORT", None)
    done = []
    for command, shown in examples():
        if not command.startswith("neuralcli ") and command != "neuralcli" or \
                command.startswith(TIMED):
            continue
        args = shlex.split(command)[1:]
        proc = subprocess.run([sys.executable, "-c", LAUNCH, *args], cwd=where, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              timeout=600)
        done.append((command, shown, proc.returncode, proc.stdout.splitlines()))
    return done


def test_every_example_runs_and_prints_what_the_readme_shows(runs):
    assert len(runs) >= 10
    wrong = []
    for command, shown, code, printed in runs:
        if code != 0:
            wrong.append(f"$ {command}\nexit {code}\n" + "\n".join(printed[-5:]))
        elif shown and not matches(shown, printed):
            wrong.append(f"$ {command}\nthe README shows:\n" + "\n".join(shown) +
                         "\nit prints:\n" + "\n".join(printed))
    assert not wrong, "\n\n".join(wrong)
