"""Thread-count and ISA settings, and what runtime_info reports."""
import json
import os

import pytest

import neuralcli
from helpers import run_python


def _info_in_subprocess(**env):
    code = "import json, neuralcli; print(json.dumps(neuralcli.runtime_info()))"
    full = {k: v for k, v in os.environ.items()
            if k not in ("NEURALCLI_NUM_THREADS", "OMP_NUM_THREADS", "NEURALCLI_ISA")}
    full.update(env)
    out = run_python(code, env=full, check=True)
    return json.loads(out.stdout)


def test_runtime_info_keys():
    info = neuralcli.runtime_info()
    assert set(info) >= {"isa", "threads", "version"}
    assert info["isa"] in ("avx512", "avx2", "portable")
    assert info["version"] == neuralcli.__version__


def test_set_and_get_num_threads(threads):
    threads(3)
    assert neuralcli.get_num_threads() == 3
    threads(1)
    assert neuralcli.runtime_info()["threads"] == 1


@pytest.mark.parametrize("bad", [0, -2])
def test_bad_thread_count_is_refused(bad):
    with pytest.raises(ValueError, match="at least 1"):
        neuralcli.set_num_threads(bad)


def test_thread_count_precedence():
    assert _info_in_subprocess(NEURALCLI_NUM_THREADS="3", OMP_NUM_THREADS="5")["threads"] == 3
    assert _info_in_subprocess(OMP_NUM_THREADS="5")["threads"] == 5
    assert _info_in_subprocess(OMP_NUM_THREADS="4,2")["threads"] == 4
    default = _info_in_subprocess()
    assert default["threads"] == default["cpu_count"]


def test_isa_can_be_capped_for_testing():
    assert _info_in_subprocess(NEURALCLI_ISA="portable")["isa"] == "portable"
    detected = _info_in_subprocess()["isa_detected"]
    capped = _info_in_subprocess(NEURALCLI_ISA="avx2")["isa"]
    assert capped == ("portable" if detected == "portable" else "avx2")
