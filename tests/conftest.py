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
