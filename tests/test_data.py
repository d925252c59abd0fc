"""Reading CSV files and built-in sets, and the preprocessing a model stores: every error a
user can make is one DataError naming the file, row and column."""
import io

import numpy as np
import pytest

from neuralcli import datasets
from neuralcli.data import (DataError, Preprocessor, Table, load_builtin, read_csv,
                            write_csv)
from neuralcli.network import MLP
from neuralcli.persist import load, save

from helpers import assert_bitwise_equal


@pytest.fixture
def csv(tmp_path):
    """Write text (or bytes) to a file in tmp_path and return its path as a string."""
    def write(content, name="data.csv"):
        path = tmp_path / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return str(path)
    return write


def error_of(fn, *args, **kw):
    with pytest.raises(DataError) as info:
        fn(*args, **kw)
    err = info.value
    assert "\n" not in str(err)
    return err


def fit(table, **kw):
    return Preprocessor().fit(table, **kw)


# ------------------------------------------------------------------ reading


def test_header_and_types(csv):
    t = read_csv(csv("age,color,y\n31,red,yes\n45,blue,no\n"))
    assert t.has_header and t.columns == ["age", "color", "y"]
    assert t.cells == [["31", "45"], ["red", "blue"], ["yes", "no"]]
    assert t.lines == [2, 3]
    assert [t.kind(j) for j in range(3)] == ["numeric", "categorical", "categorical"]


def test_numeric_file_without_header(csv):
    t = read_csv(csv("1,2.5,0\n3,-4e1,1\n5, 6 ,1\n"))
    assert not t.has_header
    assert t.columns == ["col1", "col2", "col3"]
    assert t.lines == [1, 2, 3]
    assert t.find(2) == 1 and t.find("2") == 1 and t.find("col2") == 1
    np.testing.assert_array_equal(t.numbers(1), [2.5, -40.0, 6.0])


def test_all_string_columns_with_header(csv):
    t = read_csv(csv("color,size\nred,small\nblue,large\nred,large\n"))
    assert t.has_header and t.columns == ["color", "size"]
    assert t.n_rows == 3


def test_all_string_rows_without_header(csv):
    # "red" recurs below in its column, so the first row is data, not names
    t = read_csv(csv("red,small\nblue,large\nred,large\n"))
    assert not t.has_header and t.n_rows == 3
    assert t.columns == ["col1", "col2"]


def test_numeric_first_row_over_text_is_data(csv):
    t = read_csv(csv("1,red\n2,blue\n"))
    assert not t.has_header and t.n_rows == 2


def test_duplicate_header_names(csv):
    err = error_of(read_csv, csv("a,b,a\n1,2,3\n"))
    assert err.row == 1 and 'column name "a" appears twice' in str(err)


def test_empty_header_name_gets_position(csv):
    t = read_csv(csv(",a,b\n0,1,2\n1,3,4\n"))
    assert t.columns == ["col1", "a", "b"]


@pytest.mark.parametrize("delim", [",", ";", "\t"])
def test_delimiters_sniffed(csv, delim):
    text = delim.join(["x", "name", "y"]) + "\n" + delim.join(["1.5", "a b", "0"]) + "\n" \
        + delim.join(["2.5", "c", "1"]) + "\n"
    t = read_csv(csv(text))
    assert t.columns == ["x", "name", "y"]
    assert t.cells[1] == ["a b", "c"]


def test_semicolon_with_decimal_commas(csv):
    t = read_csv(csv("a;b\n1,5;2\n3,5;4\n"))
    assert t.columns == ["a", "b"] and t.cells[0] == ["1,5", "3,5"]


def test_explicit_delimiter(csv):
    path = csv("a;b,c\n1;2,3\n4;5,6\n")
    assert read_csv(path, delimiter=";").columns == ["a", "b,c"]
    assert read_csv(path, delimiter=",").columns == ["a;b", "c"]
    assert read_csv(csv("a\tb\n1\t2\n", "t.tsv"), delimiter="tab").columns == ["a", "b"]
    err = error_of(read_csv, path, delimiter="ab")
    assert "cannot be a delimiter" in str(err)


def test_quoted_fields(csv):
    text = 'id,note,y\n1,"a, b",0\n2,"say ""hi""",1\n3,"two\nlines",0\n4, "spaced, quoted" ,1\n'
    t = read_csv(csv(text))
    assert t.cells[1] == ["a, b", 'say "hi"', "two\nlines", "spaced, quoted"]
    assert t.lines == [2, 3, 4, 6]          # the quoted newline takes line 5 too


def test_bom_crlf_trailing_and_blank_lines(csv):
    t = read_csv(csv("\ufeffa,b\r\n1,2\r\n\r\n3,4\r\n\r\n"))
    assert t.columns == ["a", "b"]
    assert t.cells == [["1", "3"], ["2", "4"]]
    assert t.lines == [2, 4]
    t = read_csv(csv("a,b\n1,2"))            # no newline at the end
    assert t.n_rows == 1
    t = read_csv(csv("a,b\n1,2\n,\n,\n"))    # spreadsheet rows of empty cells
    assert t.n_rows == 1


def test_whitespace_stripped(csv):
    t = read_csv(csv(" a , b \n 1 ,  x  \n"))
    assert t.columns == ["a", "b"] and t.cells == [["1"], ["x"]]


# ------------------------------------------------------------------ reading errors


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.csv")
    err = error_of(read_csv, path)
    assert err.path == path and str(err).startswith(f"{path}: no such file")


def test_directory(tmp_path):
    err = error_of(read_csv, tmp_path)
    assert "is a directory" in str(err) and err.path == str(tmp_path)


def test_empty_file(csv):
    path = csv("")
    assert str(error_of(read_csv, path)).startswith(f"{path}: is empty")
    assert "is empty" in str(error_of(read_csv, csv("\n\n  \n")))


def test_header_only(csv):
    path = csv("a,b,c\n")
    assert str(error_of(read_csv, path)).startswith(f"{path}: has a header but no data rows")


def test_ragged_rows(csv):
    path = csv("a,b,c\n1,2,3\n4,5\n")
    err = error_of(read_csv, path)
    assert err.row == 3
    assert str(err).startswith(f"{path}, row 3: has 2 fields but the header has 3")
    err = error_of(read_csv, csv("a,b\n1,2\n\n3,4,5\n"))
    assert err.row == 4 and "has 3 fields but the header has 2" in str(err)
    assert "quote values" in str(err)
    err = error_of(read_csv, csv("1,2\n3,4,5\n"))
    assert "the first row has 2" in str(err)


def test_unbalanced_quote(csv):
    err = error_of(read_csv, csv('a,b\n1,"2\n3,4\n5,6\n'))
    assert err.row == 2 and "never closed" in str(err)
    err = error_of(read_csv, csv('a,b,c\n1,"2\n3",4,5\n6,7,8\n'))
    assert err.row == 2 and "unbalanced quote" in str(err)


def test_not_utf8(csv):
    path = csv("name,y\nabc,1\ncaf\xe9,0\n".encode("latin-1"))
    err = error_of(read_csv, path)
    assert err.row == 3
    assert str(err).startswith(f"{path}, row 3: byte 0xe9 is not UTF-8")
    assert "UTF-8" in err.hint


def test_binary_file(csv):
    err = error_of(read_csv, csv(b"\x80\x04\x95\x00\x00"))
    assert err.row == 1


def test_non_number_in_numeric_column(csv):
    rows = "".join(f"{i},{i % 2}\n" for i in range(20))
    path = csv("age,y\n" + rows.replace("7,1", "abc,1"))
    t = read_csv(path)
    assert t.kind(0) == "numeric"            # 19 of 20 are numbers
    err = error_of(fit, t)
    assert (err.path, err.row, err.column) == (path, 9, "age")
    assert str(err) == (f'{path}, row 9, column "age": "abc" is not a number; fix the '
                        f'value, or pass --drop age if the column is not a feature')


def test_missing_marker_hint(csv):
    rows = "".join(f"{i},{i % 2}\n" for i in range(20))
    t = read_csv(csv("age,y\n" + rows.replace("3,1", "NA,1")))
    assert "--impute" in str(error_of(fit, t))


def test_mostly_text_column_is_categorical(csv):
    t = read_csv(csv("code,y\n1,a\nx,b\nz,a\n2,b\n"))
    assert t.kind(0) == "categorical"
    assert fit(t).feature_names == ["code=1", "code=2", "code=x", "code=z"]


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity", "NaN"])
def test_nan_and_inf_refused(csv, bad):
    path = csv(f"x,y\n1,0\n{bad},1\n3,1\n")
    err = error_of(fit, read_csv(path))
    assert (err.row, err.column) == (3, "x")
    assert "NaN/inf is not allowed" in str(err) and bad in str(err)


def test_header_less_error_names_column_index(csv):
    path = csv("1,2,0\n3,x,1\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)))
    err = error_of(fit, read_csv(path))
    assert err.column == 2 and f"{path}, row 2, column 2:" in str(err)


def test_empty_cell_without_impute(csv):
    path = csv("a,c,y\n1,red,0\n,blue,1\n3,red,0\n")
    err = error_of(fit, read_csv(path))
    assert (err.row, err.column) == (3, "a") and "empty cell" in str(err)
    assert "--impute" in str(err)
    path = csv("a,c,y\n1,red,0\n2,,1\n3,red,0\n", "c.csv")
    err = error_of(fit, read_csv(path))
    assert (err.row, err.column) == (3, "c")


def test_empty_target_is_always_an_error(csv):
    err = error_of(fit, read_csv(csv("a,y\n1,0\n2,\n3,1\n")), impute="mean")
    assert (err.row, err.column) == (3, "y") and "target is empty" in str(err)


@pytest.mark.parametrize("mode, num_fill, cat_fill", [
    ("mean", 4.0, "red"), ("median", 3.0, "red"), ("most-frequent", 3.0, "red")])
def test_impute(csv, mode, num_fill, cat_fill):
    t = read_csv(csv("a,c,y\n3,red,0\n,blue,1\n3,,0\n6,red,1\n"))
    p = fit(t, impute=mode, scale_target=False)
    spec_a, spec_c = p.specs
    assert spec_a["fill"] == num_fill and spec_c["fill"] == cat_fill
    X = p.transform(t)
    a = np.array([3, num_fill, 3, 6])
    np.testing.assert_allclose(X[:, 0], (a - a.mean()) / a.std())
    assert p.feature_names == ["a", "c=blue", "c=red"]
    np.testing.assert_array_equal(X[2, 1:], [0, 1])
    assert any('column "a": 1 empty cell filled' in n for n in p.last_notes)
    # the stored statistic is used for a new file, not that file's own
    new = read_csv(csv("a,c\n,blue\n100,\n", "new.csv"))
    X = p.transform(new)
    assert X[0, 0] == pytest.approx((num_fill - a.mean()) / a.std())
    np.testing.assert_array_equal(X[1, 1:], [0, 1])


def test_unknown_impute_mode(csv):
    assert "unknown impute mode" in str(error_of(fit, read_csv(csv("a,y\n1,0\n2,1\n")),
                                                 impute="zero"))


# ------------------------------------------------------------------ target and drop


def test_target_by_name_and_index(csv):
    t = read_csv(csv("y,a,b\n0,1,2\n1,3,4\n"))
    assert fit(t, target="y").input_columns == ["a", "b"]
    assert fit(t, target=1).input_columns == ["a", "b"]
    assert fit(t, target="1").input_columns == ["a", "b"]
    assert fit(t).target == "b"


def test_missing_target_column(csv):
    path = csv("a,b,y\n1,2,0\n3,4,1\n")
    err = error_of(fit, read_csv(path), target="label")
    assert err.path == path
    assert 'no target column "label"' in str(err) and "a, b, y" in str(err)
    assert "no target column" in str(error_of(fit, read_csv(path), target=9))


def test_drop(csv):
    t = read_csv(csv("id,a,y\n1,2,0\n2,4,1\n"))
    p = fit(t, drop=["id"])
    assert p.input_columns == ["a"] and p.dropped == ["id"]
    assert p.last_notes == [] and (p.transform(t), p.last_notes)[1] == []


def test_bad_drop_names(csv):
    path = csv("id,a,y\n1,2,0\n2,4,1\n")
    err = error_of(fit, read_csv(path), drop=["ID", "name"])
    assert err.path == path
    assert '"ID", "name"' in str(err) and "id, a, y" in str(err)
    assert "target" in str(error_of(fit, read_csv(path), drop=["y"]))
    assert "no feature columns" in str(error_of(fit, read_csv(path), drop=["id", "a"]))


def test_one_class_target(csv):
    path = csv("a,y\n1,yes\n2,yes\n")
    err = error_of(fit, read_csv(path))
    assert err.column == "y"
    assert 'target "y" has only one class ("yes"); a classifier needs at least two' \
        in str(err)
    assert "only one class" in str(error_of(fit, read_csv(path), task="multiclass"))


# ------------------------------------------------------------------ task detection


def rows_of(values):
    return "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))


def test_task_text_binary(csv):
    p = fit(read_csv(csv(rows_of(["yes", "no", "no"]))))
    assert p.task == "binary"
    assert p.task_reason == 'target "y" has 2 text classes -> binary classification'
    assert list(p.classes) == ["no", "yes"] and p.class_names == ["no", "yes"]


def test_task_text_multiclass(csv):
    p = fit(read_csv(csv(rows_of(["setosa", "virginica", "versicolor", "setosa"]))))
    assert p.task == "multiclass" and p.n_classes == 3
    assert p.task_reason.endswith("3 text classes -> multiclass classification")


def test_task_integers_few_classes(csv):
    p = fit(read_csv(csv(rows_of([0, 1, 1, 0]))))
    assert p.task == "binary"
    assert p.task_reason == 'target "y" has 2 integer values (0, 1) -> binary classification'
    p = fit(read_csv(csv(rows_of([i % 3 for i in range(30)]))))
    assert p.task == "multiclass" and list(p.classes) == [0, 1, 2]


def test_task_integers_too_many_or_too_sparse(csv):
    p = fit(read_csv(csv(rows_of(range(100)))))
    assert p.task == "regression" and "more than 20" in p.task_reason
    p = fit(read_csv(csv(rows_of([1, 2, 3, 4, 5, 6]))))
    assert p.task == "regression" and "fewer than 5 rows per value" in p.task_reason


def test_task_floats_regression(csv):
    p = fit(read_csv(csv(rows_of([0.5, 1.0, 2.25]))))
    assert p.task == "regression" and p.classes is None
    assert p.task_reason == 'target "y" has non-integer values -> regression'


def test_explicit_task_validation(csv):
    path = csv(rows_of(["a", "b", "c"]))
    err = error_of(fit, read_csv(path), task="binary")
    assert "binary classification needs exactly 2" in str(err) and err.column == "y"
    err = error_of(fit, read_csv(path), task="regression")
    assert (err.row, err.column) == (2, "y") and "regression cannot" in str(err)
    assert "unknown task" in str(error_of(fit, read_csv(path), task="clustering"))
    p = fit(read_csv(path), task="multiclass")
    assert p.task == "multiclass" and p.task_reason.endswith("(chosen with --task)")
    p = fit(read_csv(csv(rows_of([0, 1, 1, 0]), "b.csv")), task="regression")
    assert p.task == "regression" and "chosen with --task" in p.task_reason


def test_numeric_labels_keep_their_form(csv):
    t = read_csv(csv(rows_of([10, 2, 2, 10, 2])))
    p = fit(t)
    assert p.classes.dtype == np.int64 and list(p.classes) == [2, 10]   # numeric order
    assert p.class_names == ["2", "10"]
    np.testing.assert_array_equal(p.target_of(t), [1, 0, 0, 1, 0])
    assert p.labels([0, 1]).tolist() == [2, 10]
    p = fit(read_csv(csv(rows_of([0.5, 1.5, 0.5]))), task="binary")
    assert p.classes.dtype == np.float64 and p.class_names == ["0.5", "1.5"]


def test_regression_target_standardized(csv):
    t = read_csv(csv(rows_of([1.0, 2.0, 4.5, 8.5])))
    p = fit(t)
    y = p.target_of(t)
    assert abs(y.mean()) < 1e-12 and y.std() == pytest.approx(1.0)
    np.testing.assert_allclose(p.inverse_target(y), [1.0, 2.0, 4.5, 8.5])
    np.testing.assert_array_equal(p.target_of(t, scaled=False), [1.0, 2.0, 4.5, 8.5])
    p = fit(t, scale_target=False)
    np.testing.assert_array_equal(p.target_of(t), [1.0, 2.0, 4.5, 8.5])


# ------------------------------------------------------------------ features


def test_standardization(csv):
    t = read_csv(csv("a,b,y\n1,10,0\n2,10,1\n3,10,0\n6,10,1\n"))
    p = fit(t)
    X = p.transform(t)
    np.testing.assert_allclose(X[:, 0].mean(), 0, atol=1e-15)
    np.testing.assert_allclose(X[:, 0].std(), 1)
    np.testing.assert_array_equal(X[:, 1], 0)           # constant: scale 1
    assert any('"b" has the same value (10)' in n for n in p.fit_notes)
    new = read_csv(csv("a,b\n3,11\n", "new.csv"))
    a = np.array([1, 2, 3, 6.0])
    np.testing.assert_allclose(p.transform(new)[0], [(3 - a.mean()) / a.std(), 1.0])


def test_one_hot_and_unseen_categories(csv):
    t = read_csv(csv("color,n,y\nred,1,0\nblue,2,1\ngreen,3,0\nred,4,1\n"))
    p = fit(t)
    assert p.feature_names == ["color=blue", "color=green", "color=red", "n"]
    assert p.n_features == 4
    np.testing.assert_array_equal(p.transform(t)[:, :3],
                                  [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    new = read_csv(csv("color,n\npurple,1\nred,2\nteal,3\npurple,4\n", "new.csv"))
    X = p.prepare_predict(new)
    np.testing.assert_array_equal(X[:, :3], [[0, 0, 0], [0, 0, 1], [0, 0, 0], [0, 0, 0]])
    assert p.last_notes == ['column "color": 3 rows have categories not seen in training '
                            '("purple", "teal"); they were encoded as all zeros']


def test_empty_column(csv):
    err = error_of(fit, read_csv(csv("a,b,y\n1,,0\n2,,1\n")))
    assert err.column == "b" and "--drop b" in str(err)


# ------------------------------------------------------------------ prediction files


@pytest.fixture
def trained(csv):
    t = read_csv(csv("age,color,income,y\n30,red,1.5,yes\n40,blue,2.5,no\n"
                     "50,red,3.0,yes\n60,blue,4.0,no\n", "train.csv"))
    return t, fit(t)


def test_predict_reordered_columns(csv, trained):
    t, p = trained
    X = p.transform(t)
    new = read_csv(csv("income,y,color,age\n2.5,no,blue,40\n1.5,yes,red,30\n", "p.csv"))
    np.testing.assert_array_equal(p.prepare_predict(new), X[[1, 0]])
    assert p.last_notes == []
    np.testing.assert_array_equal(p.target_of(new), [0, 1])


def test_predict_extra_columns_noted(csv, trained):
    t, p = trained
    new = read_csv(csv("id,age,color,income,notes\n7,40,blue,2.5,hi\n", "p.csv"))
    want = p.transform(t)[[1]]
    np.testing.assert_array_equal(p.prepare_predict(new), want)
    assert p.last_notes == ["ignored columns not used in training: id, notes"]


def test_predict_missing_columns(csv, trained):
    _, p = trained
    path = csv("color\nred\n", "p.csv")
    err = error_of(p.prepare_predict, read_csv(path))
    assert err.path == path
    assert "missing columns the model was trained on: age, income" in str(err)
    err = error_of(p.prepare_predict, read_csv(csv("1,2\n3,4\n", "h.csv")))
    assert "age, color, income" in str(err) and "no header" in str(err)


def test_eval_target(csv, trained):
    _, p = trained
    err = error_of(p.target_of, read_csv(csv("age,color,income\n1,red,2\n", "p.csv")))
    assert 'no target column "y"' in str(err)
    path = csv("age,color,income,y\n1,red,2,yes\n1,red,2,maybe\n1,red,2,never\n", "q.csv")
    err = error_of(p.target_of, read_csv(path))
    assert (err.row, err.column) == (3, "y")
    assert 'labels not seen in training: "maybe", "never"' in str(err)


def test_predict_numeric_column_with_text(csv, trained):
    _, p = trained
    path = csv("age,color,income\nold,red,2\n", "p.csv")
    err = error_of(p.prepare_predict, read_csv(path))
    assert (err.row, err.column) == (2, "age") and '"old" is not a number' in str(err)


# ------------------------------------------------------------------ model file round trip


@pytest.mark.parametrize("target", ["y", "label", "amount"])
def test_meta_round_trip_through_model_file(csv, tmp_path, target):
    t = read_csv(csv("a,color,label,amount,y\n"
                     "0.1,red,1,3.25,cat\n1e3,blue,2,1.5,dog\n-2.5,,1,9.75,cat\n"
                     "7,green,2,2.0,bird\n3.3,red,1,0.5,dog\n"))
    p = fit(t, target=target, impute="median")
    meta, arrays = p.to_meta()
    model = MLP([p.n_features, 3, 2], ["relu", "softmax"], seed=1)
    path = tmp_path / "m.ncm"
    save(path, model, meta={"preprocessing": meta}, arrays=arrays)
    saved = load(path)
    q = Preprocessor.from_meta(saved.meta["preprocessing"], saved.arrays)
    for attr in ("feature_names", "input_columns", "task", "task_reason", "target",
                 "class_names", "impute", "dropped", "scale_target"):
        assert getattr(q, attr) == getattr(p, attr), attr
    new = read_csv(csv("color,a,label,amount,y\npurple,5,2,1.0,cat\n,0,1,2.0,dog\n",
                       "new.csv"))
    assert_bitwise_equal(q.transform(new), p.transform(new))
    assert_bitwise_equal(q.transform(t), p.transform(t))
    assert_bitwise_equal(q.target_of(t), p.target_of(t))
    if p.classes is not None:
        assert_bitwise_equal(q.classes, p.classes)
    assert_bitwise_equal(q.inverse_target(np.arange(3.0)), p.inverse_target(np.arange(3.0)))


def test_damaged_meta():
    with pytest.raises(DataError, match="damaged"):
        Preprocessor.from_meta({"format": 1, "target": "y"}, {})


# ------------------------------------------------------------------ built-in sets and writing


@pytest.mark.parametrize("name", sorted(datasets.DATASETS))
def test_load_builtin(name):
    X, y, features, target = datasets.load(name)
    t = load_builtin(name)
    assert t.columns == list(features) + [target] and t.has_header
    assert t.n_rows == len(y) and t.path == f"{name} (built-in)"
    for j in range(len(features)):
        assert_bitwise_equal(t.numbers(j), np.ascontiguousarray(X[:, j], dtype=np.float64))
    p = fit(t)
    assert p.task == datasets.DATASETS[name].task
    if p.classes is not None:
        np.testing.assert_array_equal(p.labels(p.target_of(t)), y)


def test_unknown_builtin():
    assert "choose from" in str(error_of(load_builtin, "iris"))


def test_write_csv_round_trip(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, ["x", "label"], [[np.float64(0.1), "a, b"], [2.0, 'q"'],
                                     [np.int64(3), "c"]])
    assert path.read_text().splitlines()[:2] == ["x,label", '0.1,"a, b"']
    t = read_csv(path)
    assert t.cells == [["0.1", "2", "3"], ["a, b", 'q"', "c"]]
    buf = io.StringIO()
    write_csv(buf, ["a"], [[1], [2]])
    assert buf.getvalue() == "a\n1\n2\n"


def test_write_csv_unwritable(tmp_path):
    err = error_of(write_csv, tmp_path / "no" / "such" / "out.csv", ["a"], [[1]])
    assert "cannot write a CSV" in str(err) and "does not exist" in str(err)
    assert "directory" in str(error_of(write_csv, tmp_path, ["a"], [[1]]))


def test_builtin_matches_its_csv(tmp_path):
    t = load_builtin("blobs")
    path = tmp_path / "blobs.csv"
    write_csv(path, t.columns, (t.row(i) for i in range(t.n_rows)))
    back = read_csv(path)
    assert back.columns == t.columns and back.cells == t.cells
    assert_bitwise_equal(fit(back).transform(back), fit(t).transform(t))


def test_table_take_keeps_lines(csv):
    t = read_csv(csv("a,y\n1,0\n2,1\nx,0\n4,1\n"))
    sub = t.take([2, 0])
    assert sub.lines == [4, 2]
    assert sub.cells[0] == ["x", "1"]
    assert isinstance(Table.from_rows(["a"], [[1.5]]).cells[0][0], str)


def test_mostly_numeric_column_read_as_text_is_explained(tmp_path):
    rows = ["age,y"] + [f"{'?' if i in (3, 7, 11) else 20 + i},{i % 2}" for i in range(20)]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(rows) + "\n")
    pre = Preprocessor().fit(read_csv(path))
    note = [n for n in pre.fit_notes if "read as text" in n]
    assert note and '"?" at row 5' in note[0] and "3 cells" in note[0]
