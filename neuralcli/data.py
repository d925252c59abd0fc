"""The data path's names where older code imports them: the typed Table and its reader
and writer, the Preprocessor and the one DataError."""
from neuralcli.errors import DataError
from neuralcli.preprocess import IMPUTE_MODES, TASKS, Preprocessor, decide_task
from neuralcli.reader import load_builtin, read_table
from neuralcli.reader import read_table as read_csv
from neuralcli.table import Table
from neuralcli.writer import write_csv

__all__ = ["DataError", "Table", "Preprocessor", "decide_task", "read_table", "read_csv",
           "load_builtin", "write_csv", "IMPUTE_MODES", "TASKS"]
