import os
import sys

import pytest

# tests import the oracle and helpers as plain modules
sys.path.insert(0, os.path.dirname(__file__))


@pytest.fixture
def threads():
    """Set the kernels' thread count for a test and restore it afterwards."""
    import neuralcli

    before = neuralcli.get_num_threads()

    def use(n):
        neuralcli.set_num_threads(n)

    yield use
    neuralcli.set_num_threads(before)


# ------------------------------------------------------------------ skip report
# With NEURALCLI_SKIP_REPORT set to a path, the run writes one line per test that did not
# run to completion by choice (skipped, or an expected failure): "outcome<TAB>test id<TAB>
# reason". .ci/check_skips compares the file with tests/expected_skips.txt.

_not_run = []


def pytest_runtest_logreport(report):
    if not report.skipped and not hasattr(report, "wasxfail"):
        return
    if hasattr(report, "wasxfail"):
        outcome = "xfail" if report.skipped else "xpass"
        reason = report.wasxfail
    else:
        outcome = "skip"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else \
            str(report.longrepr)
    if outcome == "xpass":
        return
    reason = " ".join(str(reason).split()).removeprefix("Skipped: ")
    _not_run.append(f"{outcome}\t{report.nodeid}\t{reason}")


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("NEURALCLI_SKIP_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in _not_run)
