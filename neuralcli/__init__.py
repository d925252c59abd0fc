"""neuralcli: train, evaluate and explain neural networks on tabular data."""
from neuralcli._runtime import get_num_threads, runtime_info, set_num_threads
from neuralcli._version import __version__

__all__ = ["MLP", "MLPClassifier", "MLPRegressor", "__version__", "get_num_threads",
           "runtime_info", "set_num_threads"]


def __getattr__(name):
    # the model layer loads on first use, so `import neuralcli` stays light for the CLI
    if name in ("MLPClassifier", "MLPRegressor"):
        from neuralcli import estimators
        return getattr(estimators, name)
    if name == "MLP":
        from neuralcli.network import MLP
        return MLP
    raise AttributeError(f"module 'neuralcli' has no attribute {name!r}")
