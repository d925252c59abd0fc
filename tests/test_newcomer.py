"""What someone new to neuralcli meets first: the bare command, a data set piped to another
tool, a clone that shadows the installed package, a mistyped setting, the files git keeps
out, and the documents the README links to (in a clone and in the sdist alike)."""
import os
import re
import shutil
import subprocess
import sys
from importlib.machinery import EXTENSION_SUFFIXES

import pytest
from click.testing import CliRunner

import neuralcli
from neuralcli import _kernels
from neuralcli.cli import cli
from helpers import run_python

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = ("NEURALCLI_NUM_THREADS", "OMP_NUM_THREADS", "NEURALCLI_ISA")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# ------------------------------------------------------------------ the bare command

def test_bare_command_prints_the_help():
    bare, helped = run(), run("--help")
    assert bare.exit_code == 0, (bare.stdout, bare.stderr)
    assert helped.exit_code == 0
    assert bare.stdout == helped.stdout
    assert bare.stdout.startswith("Usage: ") and "Commands:" in bare.stdout
    assert "error" not in bare.stderr


# ------------------------------------------------------------------ datasets -o -

def test_datasets_dash_writes_to_standard_output(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("datasets", "loan", "--rows", "6", "-o", "-")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split(",")[-1] == "approved" and len(lines) == 7, result.stdout
    assert not (tmp_path / "-").exists()
    assert os.listdir(tmp_path) == []


def test_datasets_dash_ignores_a_file_named_dash(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text("keep\n")
    result = run("datasets", "loan", "--rows", "6", "-o", "-")
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 7
    assert (tmp_path / "-").read_text() == "keep\n"


# ------------------------------------------------------------------ a source folder

def _copy_package(dest, core=None):
    """A copy of the imported neuralcli package in dest/neuralcli without its compiled core,
    or with `core` (bytes) written where the core would be."""
    src = os.path.dirname(os.path.abspath(neuralcli.__file__))
    target = os.path.join(dest, "neuralcli")
    ignore = shutil.ignore_patterns("_kernels*.so", "_kernels*.pyd", "_kernels.c",
                                    "__pycache__")
    shutil.copytree(src, target, ignore=ignore)
    assert not any(name.startswith("_kernels") and name.endswith((".so", ".pyd"))
                   for name in os.listdir(target))
    if core is not None:
        with open(os.path.join(target, "_kernels" + EXTENSION_SUFFIXES[0]), "wb") as f:
            f.write(core)
    return target


# An editable install's finder would supply the missing submodule from its own source
# tree; a clone beside a regular install has no such finder.
IMPORT = ("import sys\n"
          "sys.meta_path[:] = [f for f in sys.meta_path\n"
          "                    if not getattr(f, '__module__', '').startswith('__editable__')]\n"
          "import neuralcli\n")


def _import_from(folder):
    # `-c` puts the working directory first on sys.path, as in a clone's root
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", IMPORT], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=60)


def test_source_folder_without_core_says_what_to_do(tmp_path):
    package = _copy_package(tmp_path)
    result = _import_from(tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    last = lines[-1]
    assert last.startswith("ImportError: neuralcli's compiled core (_kernels) is not built "
                           f"in {package}"), result.stderr
    for needle in ("run from another directory", "pip install -e .",
                   "python setup.py build_ext --inplace"):
        assert needle in last, (needle, last)
    assert "partially initialized" not in result.stderr
    assert "During handling" not in result.stderr
    assert sum("ImportError" in ln for ln in lines) == 1, result.stderr


def test_core_that_fails_to_load_keeps_its_own_error(tmp_path):
    _copy_package(tmp_path, core=b"not a shared object")
    result = _import_from(tmp_path)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert "not built" not in result.stderr, result.stderr


# ------------------------------------------------------------------ settings

def _version_with(**settings):
    """`neuralcli --version` in a fresh interpreter with only these runtime settings."""
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(settings)
    return run_python("from neuralcli.cli import main; main(['--version'])", env=env,
                      timeout=60)


def _warnings(result):
    return [ln for ln in result.stderr.splitlines() if ln.startswith("neuralcli: warning:")]


@pytest.mark.parametrize("var,value", [("NEURALCLI_NUM_THREADS", "abc"),
                                       ("NEURALCLI_NUM_THREADS", "0"),
                                       ("OMP_NUM_THREADS", "-3")])
def test_bad_thread_count_warns_once_and_uses_the_default(var, value):
    cores = neuralcli.runtime_info()["cpu_count"]
    result = _version_with(**{var: value})
    assert result.returncode == 0, result.stderr
    assert _warnings(result) == [
        f"neuralcli: warning: {var}={value!r} is not a thread count (a positive integer, "
        f"such as 2); using {cores} threads"], result.stderr
    assert result.stderr.count("\n") == 1
    assert f"threads  {cores} of {cores} cores" in result.stdout


def test_bad_thread_count_falls_back_to_omp_num_threads():
    result = _version_with(NEURALCLI_NUM_THREADS="two", OMP_NUM_THREADS="3")
    assert result.returncode == 0, result.stderr
    assert _warnings(result) == ["neuralcli: warning: NEURALCLI_NUM_THREADS='two' is not a "
                                 "thread count (a positive integer, such as 2); using 3 "
                                 "threads"]
    assert "threads  3 of" in result.stdout


def test_unknown_isa_warns_once_and_uses_the_detected_path():
    detected = _kernels.detect_isa()
    result = _version_with(NEURALCLI_ISA="bogus")
    assert result.returncode == 0, result.stderr
    assert _warnings(result) == [
        "neuralcli: warning: NEURALCLI_ISA='bogus' is not an ISA path (one of portable, "
        f"avx2, avx512, or unset for the best this CPU has); using {detected}"]
    assert result.stderr.count("\n") == 1
    assert f"isa      {detected} (detected {detected})" in result.stdout


def test_isa_beyond_the_cpu_warns_and_one_within_it_does_not():
    detected = _kernels.ISA_NAMES.index(_kernels.detect_isa())
    for rank, name in enumerate(_kernels.ISA_NAMES):
        result = _version_with(NEURALCLI_ISA=name.upper())
        assert result.returncode == 0, result.stderr
        if rank <= detected:
            assert result.stderr == "", (name, result.stderr)
            assert f"isa      {name} " in result.stdout
        else:
            best = _kernels.ISA_NAMES[detected]
            assert _warnings(result) == [
                f"neuralcli: warning: NEURALCLI_ISA={name.upper()!r} asks for a path this "
                f"CPU lacks; using {best}, the best it has"], result.stderr


def test_good_settings_say_nothing():
    result = _version_with(NEURALCLI_NUM_THREADS="1", OMP_NUM_THREADS="4,2",
                           NEURALCLI_ISA="portable")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert "threads  1 of" in result.stdout


def test_settings_warn_once_however_often_imported():
    code = ("import importlib, neuralcli, neuralcli.cli, neuralcli.estimators\n"
            "from neuralcli import _runtime\n"
            "import neuralcli._runtime\n"
            "from click.testing import CliRunner\n"
            "CliRunner().invoke(neuralcli.cli.cli, ['--version'])\n")
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env.update(NEURALCLI_NUM_THREADS="x", NEURALCLI_ISA="y")
    result = run_python(code, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert len(_warnings(result)) == 2 and result.stderr.count("\n") == 2, result.stderr


# ------------------------------------------------------------------ .gitignore

def test_gitignore_keeps_models_and_the_ci_venv_out(tmp_path):
    """The rules in a fresh repository: model files (.ncm) and CI's virtual environment
    are ignored; the suite's model fixtures are not."""
    shutil.copy(os.path.join(ROOT, ".gitignore"), tmp_path / ".gitignore")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, env=env, check=True)
    paths = {"loan.ncm": True, "runs/best.ncm": True, ".ci-venv/bin/python": True,
             "tests/data/format1.ncm": False, "loan.csv": False}
    for path in paths:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("")
    for path, ignored in paths.items():
        rc = subprocess.run(["git", "check-ignore", "-q", path], cwd=tmp_path,
                            env=env).returncode
        assert rc == (0 if ignored else 1), (path, ignored, rc)


# ------------------------------------------------------------------ documents

def test_readme_links_resolve():
    """Every relative link in README.md names a file: in a clone, and in the unpacked
    sdist that .ci/run tests."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        links = re.findall(r"\]\(([^)\s]+)\)", f.read())
    local = [link.split("#")[0] for link in links
             if not re.match(r"[a-z]+:", link) and not link.startswith("#")]
    assert local, "README.md links no local file"
    missing = [link for link in local if not os.path.exists(os.path.join(ROOT, link))]
    assert not missing, missing
