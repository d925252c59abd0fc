"""neuralcli: train, evaluate and explain neural networks on tabular data."""
from neuralcli._runtime import get_num_threads, runtime_info, set_num_threads
from neuralcli._version import __version__

__all__ = ["__version__", "get_num_threads", "runtime_info", "set_num_threads"]
