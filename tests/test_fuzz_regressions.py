"""The fuzz targets (tests/fuzz/targets.py) on their seed corpora and on every input that
was once a finding (tests/fuzz/regressions/<target>/), without a fuzzer: each case must end
in a documented outcome. The findings also have tests of their own, beside the code they
are about, that say what was wrong."""
import os
import sys

import pytest

FUZZ = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz")
sys.path.insert(0, FUZZ)

from targets import TARGETS  # noqa: E402


def cases():
    out = []
    for kind in ("corpus", "regressions"):
        for target in sorted(TARGETS):
            d = os.path.join(FUZZ, kind, target)
            if os.path.isdir(d):
                out += [pytest.param(target, os.path.join(d, name),
                                     id=f"{kind}/{target}/{name}")
                        for name in sorted(os.listdir(d))]
    return out


CASES = cases()


def test_every_target_has_seeds():
    seeded = {c.values[0] for c in CASES if "/corpus/" in c.values[1]}
    assert seeded == set(TARGETS)


@pytest.mark.parametrize("target, path", CASES)
def test_case(target, path):
    with open(path, "rb") as f:
        data = f.read()
    TARGETS[target](data)
