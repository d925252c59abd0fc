"""The preprocessing a model stores, on typed tables: every error a user can make is one
DataError naming the file, the data row (as `explain --row` counts) and the column."""
import numpy as np
import pytest

from neuralcli import datasets
from neuralcli.errors import DataError
from neuralcli.network import MLP
from neuralcli.persist import load, save
from neuralcli.preprocess import OTHER, Preprocessor, decide_task
from neuralcli.reader import load_builtin, read_table
from neuralcli.writer import write_csv

from helpers import assert_bitwise_equal, error_of


@pytest.fixture
def csv(tmp_path):
    """Write text to a file in tmp_path and return its path as a string."""
    def write(content, name="data.csv"):
        path = tmp_path / name
        path.write_text(content, encoding="utf-8", newline="")
        return str(path)
    return write


def read(path, **kw):
    return read_table(path, **kw)


def fit(table, **kw):
    return Preprocessor().fit(table, **kw)


def dense(pre, table, **kw):
    """The one-hot expansion of the Encoded inputs: the network's view of them."""
    return pre.transform(table, **kw).to_dense(pre.n_features)


# ------------------------------------------------------------------ number columns


def test_non_number_in_numeric_column(csv):
    rows = "".join(f"{'abc' if i == 7 else i},{i % 2}\n" for i in range(20))
    path = csv("age,y\n" + rows)
    t = read(path)
    assert t.data[0].kind == "number" and t.data[0].bad == 1       # 19 of 20 are numbers
    err = error_of(fit, t)
    assert (err.path, err.row, err.column, err.fix) == (path, 8, "age", ("drop", "age"))
    assert str(err) == (f'{path}, row 8, column "age": "abc" is not a number; fix the '
                        f'value, or drop column age if it is not a feature (drop=[...])')


def test_missing_markers_are_missing_cells(csv):
    def rows(marks):
        return "".join(f"{marks.get(i, i)},{i % 2}\n" for i in range(20))

    path = csv("age,y\n" + rows({3: "NA", 9: "?"}))
    err = error_of(fit, read(path))
    assert (err.row, err.column, err.fix) == (4, "age", ("impute", None))
    assert "missing value" in str(err) and "impute" in str(err)
    p = fit(read(path), impute="mean")
    present = [i for i in range(20) if i not in (3, 9)]
    assert p.specs[0]["fill"] == pytest.approx(np.mean(present))
    X = p.transform(read(path))
    assert X.dense[3, 0] == X.dense[9, 0] == pytest.approx(
        (np.mean(present) - p.specs[0]["mean"]) / p.specs[0]["scale"])
    assert any('"age": 2 missing cells filled with the training mean' in n
               for n in p.last_notes)
    # markers of the user's own: "-" is a value unless listed, then it is missing
    dash = csv("age,y\n" + rows({3: "-"}), "dash.csv")
    assert "not a number" in str(error_of(fit, read(dash)))
    p = fit(read(dash, na_values=["-"]), impute="median")
    assert p.specs[0]["fill"] == np.median([i for i in range(20) if i != 3])


def test_mostly_text_column_is_categorical(csv):
    t = read(csv("code,y\n1,a\nx,b\nz,a\n2,b\n"))
    assert t.data[0].kind == "text"
    assert fit(t).feature_names == ["code=1", "code=2", "code=x", "code=z"]


@pytest.mark.parametrize("bad", ["nan", "inf", "-Infinity"])
def test_nan_and_inf_refused(csv, bad):
    path = csv(f"x,y\n1,0\n{bad},1\n3,1\n")
    err = error_of(fit, read(path))
    assert (err.row, err.column) == (2, "x")
    assert "NaN/inf is not allowed" in str(err) and bad in str(err)


def test_header_less_error_names_column_index(csv):
    path = csv("1,2,0\n3,x,1\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(20)))
    err = error_of(fit, read(path))
    assert err.column == 2 and f"{path}, row 2, column 2:" in str(err)


def test_missing_cell_without_impute(csv):
    path = csv("a,c,y\n1,red,0\n,blue,1\n3,red,0\n")
    err = error_of(fit, read(path))
    assert (err.row, err.column) == (2, "a") and "missing value" in str(err)
    assert err.fix == ("impute", None) and "impute=" in str(err)
    path = csv("a,c,y\n1,red,0\n2,,1\n3,red,0\n", "c.csv")
    err = error_of(fit, read(path))
    assert (err.row, err.column) == (2, "c")


def test_empty_target_is_always_an_error(csv):
    err = error_of(fit, read(csv("a,y\n1,0\n2,\n3,1\n")), impute="mean")
    assert (err.row, err.column) == (2, "y") and "target is empty" in str(err)


@pytest.mark.parametrize("mode, num_fill, cat_fill", [
    ("mean", 4.0, "red"), ("median", 3.0, "red"), ("most-frequent", 3.0, "red")])
def test_impute(csv, mode, num_fill, cat_fill):
    t = read(csv("a,c,y\n3,red,0\n,blue,1\n3,,0\n6,red,1\n"))
    p = fit(t, impute=mode, scale_target=False)
    spec_a, spec_c = p.specs
    assert spec_a["fill"] == num_fill and spec_c["fill"] == cat_fill
    X = p.transform(t)
    a = np.array([3, num_fill, 3, 6])
    np.testing.assert_allclose(X.dense[:, 0], (a - a.mean()) / a.std())
    assert p.feature_names == ["a", "c=blue", "c=red"]
    assert X.codes.dtype == np.int32 and X.codes[:, 0].tolist() == [2, 1, 2, 2]
    assert any('column "a": 1 missing cell filled' in n for n in p.last_notes)
    # the stored statistic is used for a new file, not that file's own
    new = read(csv("a,c\n,blue\n100,\n", "new.csv"))
    X = p.transform(new)
    assert X.dense[0, 0] == pytest.approx((num_fill - a.mean()) / a.std())
    assert X.codes[1, 0] == 2


def test_unknown_impute_mode(csv):
    assert "unknown impute mode" in str(error_of(fit, read(csv("a,y\n1,0\n2,1\n")),
                                                 impute="zero"))


# ------------------------------------------------------------------ target and drop


def test_target_by_name_and_index(csv):
    t = read(csv("y,a,b\n0,1,2\n1,3,4\n"))
    assert fit(t, target="y").input_columns == ["a", "b"]
    assert fit(t, target=1).input_columns == ["a", "b"]
    assert fit(t, target="1").input_columns == ["a", "b"]
    assert fit(t).target == "b"


def test_missing_target_column(csv):
    path = csv("a,b,y\n1,2,0\n3,4,1\n")
    err = error_of(fit, read(path), target="label")
    assert err.path == path
    assert 'no target column "label"' in str(err) and "a, b, y" in str(err)
    assert "no target column" in str(error_of(fit, read(path), target=9))


def test_drop(csv):
    t = read(csv("id,a,y\n1,2,0\n2,4,1\n"))
    p = fit(t, drop=["id"])
    assert p.input_columns == ["a"] and p.dropped == ["id"]
    assert p.fit_notes == [] and (p.transform(t), p.last_notes)[1] == []


def test_bad_drop_names(csv):
    path = csv("id,a,y\n1,2,0\n2,4,1\n")
    err = error_of(fit, read(path), drop=["ID", "name"])
    assert err.path == path
    assert '"ID", "name"' in str(err) and "id, a, y" in str(err)
    assert "target" in str(error_of(fit, read(path), drop=["y"]))
    assert "no feature columns" in str(error_of(fit, read(path), drop=["id", "a"]))


def test_one_class_target(csv):
    path = csv("a,y\n1,yes\n2,yes\n")
    err = error_of(fit, read(path))
    assert err.column == "y" and err.fix == ("target", None)
    assert 'target "y" has only one class ("yes"); a classifier needs at least two' \
        in str(err)
    assert "only one class" in str(error_of(fit, read(path), task="multiclass"))


# ------------------------------------------------------------------ task detection


def rows_of(values):
    return "x,y\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values))


def test_task_text_binary(csv):
    p = fit(read(csv(rows_of(["yes", "no", "no"]))))
    assert p.task == "binary"
    assert p.task_reason == 'target "y" has 2 text classes -> binary classification'
    assert list(p.classes) == ["no", "yes"] and p.class_names == ["no", "yes"]


def test_task_text_multiclass(csv):
    p = fit(read(csv(rows_of(["setosa", "virginica", "versicolor", "setosa"]))))
    assert p.task == "multiclass" and p.n_classes == 3
    assert p.task_reason.endswith("3 text classes -> multiclass classification")


def test_task_integers_few_classes(csv):
    p = fit(read(csv(rows_of([0, 1, 1, 0]))))
    assert p.task == "binary"
    assert p.task_reason == 'target "y" has 2 integer values (0, 1) -> binary classification'
    p = fit(read(csv(rows_of([i % 3 for i in range(30)]))))
    assert p.task == "multiclass" and list(p.classes) == [0, 1, 2]


def test_task_integers_too_many_or_too_sparse(csv):
    p = fit(read(csv(rows_of(range(100)))))
    assert p.task == "regression" and "more than 20" in p.task_reason
    p = fit(read(csv(rows_of([1, 2, 3, 4, 5, 6]))))
    assert p.task == "regression" and "fewer than 5 rows per value" in p.task_reason


def test_task_floats_regression(csv):
    p = fit(read(csv(rows_of([0.5, 1.0, 2.25]))))
    assert p.task == "regression" and p.classes is None
    assert p.task_reason == 'target "y" has non-integer values -> regression'


def test_explicit_task_validation(csv):
    path = csv(rows_of(["a", "b", "c"]))
    err = error_of(fit, read(path), task="binary")
    assert "binary classification needs exactly 2" in str(err) and err.column == "y"
    assert err.fix == ("task", "multiclass")
    err = error_of(fit, read(path), task="regression")
    assert (err.row, err.column) == (1, "y") and "regression cannot" in str(err)
    assert "unknown task" in str(error_of(fit, read(path), task="clustering"))
    p = fit(read(path), task="multiclass")
    assert p.task == "multiclass" and p.task_reason.endswith("(chosen with --task)")
    p = fit(read(csv(rows_of([0, 1, 1, 0]), "b.csv")), task="regression")
    assert p.task == "regression" and "chosen with --task" in p.task_reason


def test_numeric_labels_keep_their_form(csv):
    t = read(csv(rows_of([10, 2, 2, 10, 2])))
    p = fit(t)
    assert p.classes.dtype == np.int64 and list(p.classes) == [2, 10]   # numeric order
    assert p.class_names == ["2", "10"]
    np.testing.assert_array_equal(p.target_of(t), [1, 0, 0, 1, 0])
    assert p.labels([0, 1]).tolist() == [2, 10]
    p = fit(read(csv(rows_of([0.5, 1.5, 0.5]))), task="binary")
    assert p.classes.dtype == np.float64 and p.class_names == ["0.5", "1.5"]


def test_regression_target_standardized(csv):
    t = read(csv(rows_of([1.0, 2.0, 4.5, 8.5])))
    p = fit(t)
    y = p.target_of(t)
    assert abs(y.mean()) < 1e-12 and y.std() == pytest.approx(1.0)
    np.testing.assert_allclose(p.inverse_target(y), [1.0, 2.0, 4.5, 8.5])
    np.testing.assert_array_equal(p.target_of(t, scaled=False), [1.0, 2.0, 4.5, 8.5])
    p = fit(t, scale_target=False)
    np.testing.assert_array_equal(p.target_of(t), [1.0, 2.0, 4.5, 8.5])


def test_task_decided_on_the_whole_file_and_fitted_on_training_rows(csv):
    # 15 rows of 3 values meet the multiclass rule; the 10 training rows alone would not
    t = read(csv("x,y\n" + "".join(f"{i * i},{i % 3}\n" for i in range(15))))
    decision = decide_task(t)
    assert decision.task == "multiclass" and decision.codes.tolist() == \
        [i % 3 for i in range(15)]
    train = np.arange(10)
    p = fit(t, rows=train, task=decision)
    assert p.task == "multiclass" and p.task_reason == decision.reason
    x = np.array([i * i for i in range(10)], dtype=np.float64)
    assert p.specs[0]["mean"] == pytest.approx(x.mean())           # not the file's mean
    assert p.specs[0]["scale"] == pytest.approx(x.std())
    X = p.transform(t)
    assert X.dense[14, 0] == pytest.approx((196 - x.mean()) / x.std())


# ------------------------------------------------------------------ features


def test_standardization(csv):
    t = read(csv("a,b,y\n1,10,0\n2,10,1\n3,10,0\n6,10,1\n"))
    p = fit(t)
    X = p.transform(t)
    assert X.codes is None and X.dense.dtype == np.float64
    np.testing.assert_allclose(X.dense[:, 0].mean(), 0, atol=1e-15)
    np.testing.assert_allclose(X.dense[:, 0].std(), 1)
    np.testing.assert_array_equal(X.dense[:, 1], 0)           # constant: scale 1
    assert any('"b" has the same value (10)' in n for n in p.fit_notes)
    new = read(csv("a,b\n3,11\n", "new.csv"))
    a = np.array([1, 2, 3, 6.0])
    np.testing.assert_allclose(p.transform(new).dense[0], [(3 - a.mean()) / a.std(), 1.0])
    X32 = p.transform(t, dtype=np.float32)
    assert X32.dense.dtype == np.float32
    np.testing.assert_array_equal(X32.dense, X.dense.astype(np.float32))


def test_categories_follow_the_dense_inputs(csv):
    t = read(csv("color,n,y\nred,1,0\nblue,2,1\ngreen,3,0\nred,4,1\n"))
    p = fit(t)
    assert p.feature_names == ["n", "color=blue", "color=green", "color=red"]
    assert p.n_features == 4 and p.n_dense == 1
    X = p.transform(t)
    assert X.codes[:, 0].tolist() == [3, 1, 2, 3]          # absolute first-layer rows
    np.testing.assert_array_equal(X.to_dense(4)[:, 1:],
                                  [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])
    new = read(csv("color,n\npurple,1\nred,2\nteal,3\npurple,4\n", "new.csv"))
    assert p.transform(new).codes[:, 0].tolist() == [-1, 3, -1, -1]
    assert p.last_notes == ['column "color": 3 rows have categories not seen in training '
                            '("purple", "teal"); they were encoded as all zeros']


def test_dates_become_days_weekday_and_month(csv):
    # 2024-01-01 was a Monday, 2024-03-16 a Saturday, 1970-01-01 a Thursday
    t = read(csv("when,y\n2024-01-01,0\n2024-03-16,1\n1970-01-01,0\n,1\n"))
    assert t.data[0].kind == "date"
    err = error_of(fit, t)
    assert (err.row, err.column) == (4, "when") and err.fix == ("impute", None)
    p = fit(t, impute="median")
    assert p.feature_names == ["when:days", "when:dow_sin", "when:dow_cos",
                               "when:month_sin", "when:month_cos"]
    assert any('"when" is a date' in n and "when:dow_sin" in n for n in p.fit_notes)
    days = np.array([19723.0, 19798.0, 0.0])
    fill = np.median(days)
    assert p.specs[0]["fill"] == fill
    filled = np.append(days, fill)
    X = p.transform(t).dense
    np.testing.assert_allclose(X[:, 0], (filled - filled.mean()) / filled.std())
    dow = np.array([0, 5, 3])                          # Monday = 0
    month = np.array([0, 2, 0])                        # January = 0
    np.testing.assert_allclose(X[:3, 1], np.sin(2 * np.pi * dow / 7), atol=1e-15)
    np.testing.assert_allclose(X[:3, 2], np.cos(2 * np.pi * dow / 7), atol=1e-15)
    np.testing.assert_allclose(X[:3, 3], np.sin(2 * np.pi * month / 12), atol=1e-15)
    np.testing.assert_allclose(X[:3, 4], np.cos(2 * np.pi * month / 12), atol=1e-15)
    assert "date" in dict((c, k) for c, k, _ in p.describe())["when"]


def test_max_categories_and_the_other_row(csv):
    # counts: a 5, b 3, c 3, d 1; b appears before c, so a tie keeps b
    values = list("abcabcabcaad")
    t = read(csv("c,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(values))))
    p = fit(t, max_categories=2)
    assert p.feature_names == ["c=a", "c=b", f"c={OTHER}"]
    assert p.transform(t).codes[:, 0].tolist() == [0 if v == "a" else 1 if v == "b" else 2
                                                   for v in values]
    assert any("the 2 most frequent of 4 categories are kept; the other 2 values (4 rows)"
               in n for n in p.fit_notes)
    # unseen in training: the other row
    new = read(csv("c\nzzz\na\n", "new.csv"))
    assert p.transform(new).codes[:, 0].tolist() == [2, 0]
    assert p.last_notes == ['column "c": 1 row has a category outside the 2 kept ("zzz"); '
                            'it was encoded as the <other> input']
    assert fit(t).feature_names == ["c=a", "c=b", "c=c", "c=d"]


def test_identifiers_are_left_out_unless_kept(csv):
    rows = "".join(f"u{i:03d},{i % 7},{i % 2}\n" for i in range(30))
    t = read(csv("id,x,y\n" + rows))
    p = fit(t)
    assert p.input_columns == ["x"] and p.ids == ["id"]
    assert any('"id" looks like an identifier (30 distinct values in 30 rows)' in n
               for n in p.fit_notes)
    assert p.transform(t).codes is None and p.last_notes == []
    assert ("id", "text", "left out: looks like an identifier") in p.describe()
    kept = fit(t, keep=["id"])
    assert kept.input_columns == ["id", "x"] and kept.ids == []
    assert kept.n_features == 31
    # fewer than 20 values: not judged an identifier
    assert fit(t.take(np.arange(15))).input_columns == ["id", "x"]


def test_empty_column(csv):
    err = error_of(fit, read(csv("a,b,y\n1,,0\n2,,1\n", "e.csv")))
    assert err.column == "b" and err.fix == ("drop", "b")
    assert str(err).endswith('e.csv, column "b": the column has no values; drop column b if '
                             'it is not a feature (drop=[...])')
    # empty only in the training rows: said so
    t = read(csv("a,b,y\n1,,0\n2,,1\n3,5,0\n4,,1\n", "part.csv"))
    err = error_of(fit, t, rows=np.array([0, 1]))
    assert err.column == "b" and err.fix == ("drop", "b")
    assert str(err).endswith('part.csv, column "b": the column has no values in the training '
                             'rows; drop column b if it is not a feature (drop=[...])')


def test_identifier_rule_at_its_boundaries(csv):
    # an identifier: at least 20 values, at least 95% of them distinct
    def columns(n, distinct):
        rows = "".join(f"u{i % distinct},{i % 7},{i % 2}\n" for i in range(n))
        return fit(read(csv("id,x,y\n" + rows, f"ids{n}_{distinct}.csv"))).input_columns
    assert columns(20, 20) == ["x"] and columns(20, 19) == ["x"]
    assert columns(20, 18) == ["id", "x"] and columns(19, 19) == ["id", "x"]


def test_category_ties_beyond_the_cap_keep_the_first_seen(csv):
    # 64 categories seen 2 or 3 times, mixed: the ones kept are the most frequent, ties
    # going to the first to appear, whatever a sort that is not stable would pick among
    # the equal counts
    names = [f"k{(i * 17) % 64:02d}" for i in range(64)]
    count = np.random.default_rng(0).integers(2, 4, 64).tolist()
    values = names + [v for v, c in zip(names, count) for _ in range(c - 1)]
    rows = "".join(f"{v},{i % 2}\n" for i, v in enumerate(values))
    cap = count.count(3) - 3
    p = fit(read(csv("c,y\n" + rows, "ties.csv")), max_categories=cap)
    first = sorted(range(64), key=lambda i: -count[i])[:cap]     # Python's sort is stable
    assert p.feature_names == [f"c={v}" for v in sorted(names[i] for i in first)] + \
        [f"c={OTHER}"]


# ------------------------------------------------------------------ prediction files


@pytest.fixture
def trained(csv):
    t = read(csv("age,color,income,y\n30,red,1.5,yes\n40,blue,2.5,no\n"
                 "50,red,3.0,yes\n60,blue,4.0,no\n", "train.csv"))
    return t, fit(t)


def test_predict_reordered_columns(csv, trained):
    t, p = trained
    X = dense(p, t)
    new = read(csv("income,y,color,age\n2.5,no,blue,40\n1.5,yes,red,30\n", "p.csv"))
    np.testing.assert_array_equal(dense(p, new), X[[1, 0]])
    assert p.last_notes == []
    np.testing.assert_array_equal(p.target_of(new), [0, 1])


def test_predict_extra_columns_noted(csv, trained):
    t, p = trained
    new = read(csv("id,age,color,income,notes\n7,40,blue,2.5,hi\n", "p.csv"))
    want = dense(p, t)[[1]]
    np.testing.assert_array_equal(dense(p, new), want)
    assert p.last_notes == ["ignored columns not used in training: id, notes"]


def test_predict_missing_columns(csv, trained):
    _, p = trained
    path = csv("color\nred\n", "p.csv")
    err = error_of(p.transform, read(path))
    assert err.path == path
    assert str(err).endswith("p.csv: missing columns the model was trained on: age, income; "
                             "the file's columns are color")
    # many columns: the first 20 are listed
    names = ["color"] + [f"c{i}" for i in range(21)]
    err = error_of(p.transform, read(csv(",".join(names) + "\n" + ",".join(
        ["red"] + ["1"] * 21) + "\n", "wide.csv")))
    assert str(err).endswith("wide.csv: missing columns the model was trained on: age, "
                             "income; the file's columns are " + ", ".join(names[:20]) +
                             " and 2 more")
    err = error_of(p.transform, read(csv("1,2\n3,4\n", "h.csv")))
    assert str(err).endswith("h.csv: missing columns the model was trained on: age, color, "
                             "income; the file has no header row; add one with the training "
                             "columns' names")


def test_eval_target(csv, trained):
    _, p = trained
    err = error_of(p.target_of, read(csv("age,color,income\n1,red,2\n", "p.csv")))
    assert 'no target column "y"' in str(err)
    path = csv("age,color,income,y\n1,red,2,yes\n1,red,2,maybe\n1,red,2,never\n", "q.csv")
    err = error_of(p.target_of, read(path))
    assert (err.row, err.column) == (2, "y")
    assert 'labels not seen in training: "maybe", "never"' in str(err)


def test_predict_errors_name_the_row_and_offer_no_training_fix(csv, trained):
    _, p = trained
    path = csv("age,color,income\n40,red,2\nold,red,2\n", "p.csv")
    err = error_of(p.transform, read(path))
    assert (err.row, err.column) == (2, "age") and '"old" is not a number' in str(err)
    assert err.fix is None
    err = error_of(p.transform, read(csv("age,color,income\n40,red,2\n50,,3\n", "m.csv")))
    assert (err.row, err.column, err.fix) == (2, "color", None)
    # a column with no value at all is read as text; its cells are still just missing
    err = error_of(p.transform, read(csv("age,color,income\n40,red,\n", "e.csv")))
    assert (err.row, err.column) == (1, "income") and "missing value" in str(err)
    # a row whose own cells are numbers traces, though the file's column reads as text
    t = read(csv("age,color,income\n40,red,2\nold,red,2\nyoung,red,2\n", "o.csv"))
    assert t.data[0].kind == "text"
    assert p.transform(t, rows=[0]).dense[0, 0] == p.transform(
        read(csv("age,color,income\n40,red,2\n", "one.csv"))).dense[0, 0]
    assert error_of(p.transform, t, rows=[0, 2]).row == 3
    # rows of a table keep the table's numbering: a traced row names itself
    t = read(csv("age,color,income\n40,red,2\n50,red,3\n1e999,red,4\n", "r.csv"))
    assert p.transform(t, rows=[1]).dense.shape == (1, 2)
    assert error_of(p.transform, t, rows=[0, 2]).row == 3


# ------------------------------------------------------------------ model file round trip


@pytest.mark.parametrize("target", ["y", "label", "amount"])
def test_meta_round_trip_through_model_file(csv, tmp_path, target):
    t = read(csv("a,color,label,amount,when,y\n"
                 "0.1,red,1,3.25,2020-01-05,cat\n1e3,blue,2,1.5,2021-03-01,dog\n"
                 "-2.5,,1,9.75,,cat\n7,green,2,2.0,2019-12-31,bird\n"
                 "3.3,red,1,0.5,2020-07-04,dog\n"))
    p = fit(t, target=target, impute="median", max_categories=2)
    meta, arrays = p.to_meta()
    assert meta["format"] == 2
    model = MLP([p.n_features, 3, 2], ["relu", "softmax"], seed=1)
    path = tmp_path / "m.ncm"
    save(path, model, meta={"preprocessing": meta}, arrays=arrays)
    saved = load(path)
    q = Preprocessor.from_meta(saved.meta["preprocessing"], saved.arrays)
    for attr in ("feature_names", "input_columns", "task", "task_reason", "target",
                 "class_names", "impute", "dropped", "scale_target", "blocks", "n_dense",
                 "max_categories", "specs"):
        assert getattr(q, attr) == getattr(p, attr), attr
    assert q.max_categories == 2
    assert q.legacy_order is None
    new = read(csv("color,a,label,amount,when,y\npurple,5,2,1.0,2022-02-02,cat\n"
                   ",0,1,2.0,,dog\n", "new.csv"))
    for table in (new, t):
        a, b = q.transform(table), p.transform(table)
        assert_bitwise_equal(a.dense, b.dense)
        assert_bitwise_equal(a.codes, b.codes)
    assert_bitwise_equal(q.target_of(t), p.target_of(t))
    if p.classes is not None:
        assert_bitwise_equal(q.classes, p.classes)
    assert_bitwise_equal(q.inverse_target(np.arange(3.0)), p.inverse_target(np.arange(3.0)))


def test_damaged_meta():
    with pytest.raises(DataError, match="damaged"):
        Preprocessor.from_meta({"format": 2, "target": "y"}, {})
    with pytest.raises(DataError, match="damaged"):
        Preprocessor.from_meta({"format": 9, "target": "y"}, {})


@pytest.mark.parametrize("damage", ["dense", "block start", "block size", "block name",
                                    "no blocks"])
def test_a_layout_that_does_not_match_the_columns_is_damage(csv, damage):
    p = fit(read(csv("a,c,d,y\n1,r,x,0\n2,g,y,1\n3,r,x,0\n")))
    meta, arrays = p.to_meta()
    assert meta["layout"] == {"dense": 1, "blocks": [["c", 1, 2], ["d", 3, 2]]}
    Preprocessor.from_meta(meta, arrays)                         # as written: loads
    layout = meta["layout"]
    if damage == "dense":
        layout["dense"] = 2
    elif damage == "no blocks":
        del layout["blocks"]
    else:
        layout["blocks"][1][{"block start": 1, "block size": 2, "block name": 0}[damage]] = \
            "e" if damage == "block name" else 4
    with pytest.raises(DataError, match=r"damaged \(its layout does not match its columns\)"):
        Preprocessor.from_meta(meta, arrays)


# ------------------------------------------------------------------ built-in sets


@pytest.mark.parametrize("name", sorted(datasets.DATASETS))
def test_builtin_sets(name):
    X, y, features, target = datasets.load(name)
    t = load_builtin(name)
    p = fit(t)
    assert p.task == datasets.DATASETS[name].task
    if p.classes is not None:
        np.testing.assert_array_equal(p.labels(p.target_of(t)), y)


def test_builtin_matches_its_csv(tmp_path):
    t = load_builtin("blobs")
    X, y, _, _ = datasets.load("blobs")
    path = tmp_path / "blobs.csv"
    write_csv(path, t.columns, (list(map(float, x)) + [v.item()] for x, v in zip(X, y)))
    back = read(path)
    assert back.columns == t.columns
    a, b = fit(back).transform(back), fit(t).transform(t)
    assert_bitwise_equal(a.dense, b.dense)


def test_mostly_numeric_column_read_as_text_is_explained(tmp_path):
    rows = ["age,y"] + [f"{'x' if i in (3, 7, 11) else 20 + i},{i % 2}" for i in range(20)]
    path = tmp_path / "q.csv"
    path.write_text("\n".join(rows) + "\n")
    pre = Preprocessor().fit(read(path))
    note = [n for n in pre.fit_notes if "read as text" in n]
    assert note and '"x" at row 4' in note[0] and "3 cells" in note[0]


def test_date_column_read_as_text_at_prediction(csv):
    """A file whose date column the reader types as text (a cell is not a date): the rows
    that are dates encode as they would from a date column, the first that is not is an
    error naming it, and a NaN in a number column read as text says NaN is refused."""
    train = read(csv("when,x,y\n2024-01-01,1,0\n2024-03-16,2,1\n1970-01-01,3,0\n"
                     "2023-07-04,4,1\n", "train.csv"))
    p = fit(train)
    good = p.transform(read(csv("when,x\n2024-03-16,2\n2023-07-04,5\n", "good.csv"))).dense
    t = read(csv("when,x\n2024-03-16,2\nsoon,3\n2023-07-04,5\n,6\n", "text.csv"))
    assert t.data[0].kind == "text"
    got = p.transform(t, rows=[0, 2]).dense
    assert np.array_equal(got, good)
    err = error_of(p.transform, t, rows=[0, 1, 2])
    assert (err.row, err.column) == (2, "when")
    assert str(err).endswith('row 2, column "when": "soon" is not a date; fix the value')
    err = error_of(p.transform, t, rows=[3])
    assert (err.row, err.column) == (4, "when") and "missing value" in str(err)
    n = read(csv("when,x\n2024-03-16,nan\n2023-07-04,abc\n", "nan.csv"))
    assert n.data[1].kind == "text"
    err = error_of(p.transform, n, rows=[0])
    assert (err.row, err.column) == (1, "x") and 'NaN/inf is not allowed ("nan")' in str(err)
    err = error_of(p.transform, n, rows=[1])
    assert (err.row, err.column) == (2, "x") and '"abc" is not a number' in str(err)


def test_meta_round_trip_keeps_whether_dates_have_times(csv):
    t = read(csv("when,x,y\n2020-01-05T10:30:00,1,0\n2021-03-01T00:00:15,2,1\n"
                 "2019-12-31T23:59:59,3,0\n"))
    p = fit(t)
    assert p.specs[0]["has_time"] is True
    q = Preprocessor.from_meta(*p.to_meta())
    assert q.specs[0]["has_time"] is True and q.specs == p.specs
    d = fit(read(csv("when,x,y\n2020-01-05,1,0\n2021-03-01,2,1\n", "d.csv")))
    assert Preprocessor.from_meta(*d.to_meta()).specs[0]["has_time"] is False


def test_most_frequent_fill_is_the_most_frequent_value(csv):
    t = read(csv("a,y\n1,0\n5,1\n5,0\n,1\n2,0\n5,1\n2,0\n"))
    p = fit(t, impute="most_frequent")
    assert p.specs[0]["fill"] == 5.0


def test_most_frequent_fill_is_a_kept_category_when_a_tie_cuts_some(csv):
    # three categories tied at the top count and two kept: the smallest tied one, "a",
    # is cut (first appearance decides what is kept), so the fill is the smallest kept
    t = read(csv("n,c,y\n1,c,0\n2,b,1\n3,a,0\n4,,1\n"))
    p = fit(t, impute="most-frequent", max_categories=2)
    s = p._spec_of["c"]
    assert s["categories"] == ["b", "c"] and s["other"] and s["fill"] == "b"
    X = p.transform(t)
    # inputs after n's: b 1, c 2, <other> 3; the empty cell is coded as "b", the cut "a"
    # as <other>
    assert X.codes[:, 0].tolist() == [2, 1, 3, 1]


def test_text_column_read_as_numbers_at_prediction(csv):
    """A category column of the training file (text there) whose prediction file holds
    only numbers: each number finds the category it spells, 10.0 the category "10"."""
    train = read(csv("code,x,y\n10,1,0\n20,2,1\nx7,3,0\n20,4,1\n10,5,0\n", "train.csv"))
    assert train.data[0].kind == "text"
    p = fit(train)
    want = p.transform(read(csv("code,x\n20,1\n10,2\n20,3\n", "want.csv"), kinds={"code":
                                                                             "text"}))
    t = read(csv("code,x\n20,1\n10.0,2\n2e1,3\n", "num.csv"))
    assert t.data[0].kind == "number"
    got = p.transform(t)
    assert np.array_equal(got.codes, want.codes) and np.array_equal(got.dense, want.dense)
    assert p.last_notes == []
    # categories spelled otherwise than numbers print: found by value all the same
    q = fit(read(csv("code,x,y\n007,1,0\n1.50,2,1\nx7,3,0\n007,4,1\n", "train2.csv")))
    got2 = q.transform(read(csv("code,x\n7,1\n1.5,2\n7.0,3\n", "num2.csv")))
    want2 = q.transform(read(csv("code,x\n007,1\n1.50,2\n007,3\n", "want2.csv"),
                             kinds={"code": "text"}))
    assert np.array_equal(got2.codes, want2.codes) and q.last_notes == []
    unseen = p.transform(read(csv("code,x\n30,1\n10,2\n", "new.csv")))
    assert p.last_notes == ['column "code": 1 row has a category not seen in training '
                            '("30"); it was encoded as all zeros']
    assert unseen.codes[1, 0] == want.codes[1, 0] and unseen.codes[0, 0] != want.codes[1, 0]
    err = error_of(p.transform, read(csv("code,x\n10,1\n,2\n", "gap.csv")))
    assert (err.row, err.column) == (2, "code")
    assert str(err).endswith('gap.csv, row 2, column "code": missing value (an empty cell or '
                             'a missing-value marker); fill it in (the model was trained '
                             'without imputing)')
    err = error_of(p.transform, read(csv("code,x\n2024-01-01,1\n2024-02-01,2\n", "d.csv")))
    assert (err.row, err.column) == (None, "code")
    assert str(err).endswith('d.csv, column "code": the column holds dates where the model '
                             'was trained on text; check that it is the same column as in '
                             'training')


def test_evaluation_targets_that_cannot_be_read(csv):
    p = fit(read(csv("x,y\n1,a\n2,b\n3,a\n4,b\n", "train.csv")))
    err = error_of(p.target_of, read(csv("x,y\n1,a\n2,b\n3,\n4,a\n", "gap.csv")))
    assert (err.row, err.column) == (3, "y")
    assert str(err).endswith('gap.csv, row 3, column "y": the target is empty; fill in the '
                             'value or remove the row')
    err = error_of(p.target_of, read(csv("x,y\n1,2024-01-01\n2,2024-01-02\n", "d.csv")))
    assert err.column == "y" and "the target column holds dates" in str(err)
    r = fit(read(csv("x,t\n1,0.5\n2,1.5\n3,2.25\n4,8.0\n", "reg.csv")))
    assert r.task == "regression"
    err = error_of(r.target_of, read(csv("x,t\n1,0.5\n2,much\n3,3.0\n", "bad.csv")))
    assert (err.row, err.column) == (2, "t") and '"much" is not a number' in str(err)


def test_evaluation_labels_read_as_text_or_as_numbers(csv):
    # number labels met in a text column (one cell is no number) find their classes by
    # value; text labels that spell numbers are found from a number column; what matches
    # no class is named, as the file spells it, with the labels the model knows
    rows = "".join(f"{i},{i % 3}\n" for i in range(30))
    p = fit(read(csv("x,y\n" + rows, "train.csv")))
    assert p.label_kind == "integer" and p.classes.tolist() == [0, 1, 2]
    t = read(csv("x,y\n1,1\n2,2\n3,0\n4,2.0\n", "ev.csv"))
    np.testing.assert_array_equal(p.target_of(t), [1, 2, 0, 2])
    t = read(csv("x,y\n1,x\n2,1\n3,2\n4,0\n5,7\n6,x\n", "ev.csv"))
    assert t.data[1].kind == "text"
    err = error_of(p.target_of, t)
    assert str(err).endswith('ev.csv, row 1, column "y": target "y" has labels not seen in '
                             'training: "7", "x"; the model knows "0", "1", "2"')
    err = error_of(p.target_of, read(csv("x,y\n1,1\n2,9\n", "num.csv")))
    assert str(err).endswith('num.csv, row 2, column "y": target "y" has a label not seen '
                             'in training: "9"; the model knows "0", "1", "2"')

    rows = "".join(f"{i},{['1', '2', 'x'][i % 3]}\n" for i in range(30))
    q = fit(read(csv("x,y\n" + rows, "train2.csv")))
    assert q.label_kind == "text" and q.classes.tolist() == ["1", "2", "x"]
    t = read(csv("x,y\n1,2\n2,1.0\n3,1\n", "ev2.csv"))
    assert t.data[1].kind == "number"
    np.testing.assert_array_equal(q.target_of(t), [1, 0, 0])
    err = error_of(q.target_of, read(csv("x,y\n1,1\n2,5.5\n", "ev3.csv")))
    assert str(err).endswith('ev3.csv, row 2, column "y": target "y" has a label not seen '
                             'in training: "5.5"; the model knows "1", "2", "x"')


def test_target_scaling_is_recorded_only_for_a_scaled_regression_target(csv):
    reg = read(csv(rows_of([1.0, 2.0, 4.5, 8.5]), "reg.csv"))
    for p in (fit(reg, scale_target=False), fit(read(csv(rows_of(["a", "b", "a"]), "c.csv"))),
              fit(read(csv(rows_of([0.5, 1.5, 0.5]), "b.csv")), task="binary",
                  scale_target=True)):
        assert (p.scale_target, p.target_mean, p.target_std) == (False, 0.0, 1.0)
        assert not [n for n in p.notes if "target" in str(n)]
    # training rows whose target is constant: centred on it, not scaled, and noted
    t = read(csv("x,y\n" + "".join(f"{i},{2.5 if i < 6 else 0.1 * i}\n" for i in range(12))))
    p = fit(t, rows=np.arange(6), task="regression")
    assert (p.scale_target, p.target_mean, p.target_std) == (True, 2.5, 1.0)
    assert [str(n) for n in p.notes] == ['target "y" has the same value in every training row']
    assert [n.column for n in p.notes] == ["y"]
    np.testing.assert_allclose(p.target_of(t)[5:8], [0.0, 0.6 - 2.5, 0.7 - 2.5], rtol=1e-12)


def test_summary_merged_over_chunks_is_the_whole_columns():
    # chunks whose spread grows (the accumulation unit doubles up, rescaling what is
    # summed so far), means far apart, one lone value, and filled copies of one value
    from neuralcli.preprocess import Summary
    rng = np.random.default_rng(3)
    parts = [rng.normal(5.0, 0.01, 7), rng.normal(-3.0, 40.0, 11), np.array([1e6]),
             rng.normal(100.0, 1e3, 5), rng.normal(7.0, 1e-3, 9)]
    s = Summary("number")
    for p in parts:
        s.merge(len(p), p)
    s.merge(4, value=2.5)
    s.merge(0, value=1e9)                       # no values: nothing changes
    whole = np.concatenate(parts + [np.full(4, 2.5)])
    assert s.count == len(whole)
    assert s.mean == pytest.approx(whole.mean(), rel=1e-13)
    assert s.std == pytest.approx(whole.std(), rel=1e-13)
    # a filled value that is the largest deviation yet also rescales
    s = Summary("number")
    s.merge(3, np.array([1.0, 2.0, 3.0]))
    s.merge(2, value=-500.0)
    whole = np.array([1.0, 2.0, 3.0, -500.0, -500.0])
    assert s.mean == pytest.approx(whole.mean(), rel=1e-14)
    assert s.std == pytest.approx(whole.std(), rel=1e-14)
    # values near the top of the float range: a filled value as far below as the others
    # are above still rescales first, so no square overflows (std of a, a, -a: a*sqrt(8)/3)
    s = Summary("number")
    s.merge(2, np.array([1e300, 1e300]))
    s.merge(1, value=-1e300)
    assert s.mean == pytest.approx(1e300 / 3, rel=1e-14)
    assert s.std == pytest.approx(1e300 * np.sqrt(8.0) / 3, rel=1e-14)
    # equal values, in chunks and filled: exactly their value, exactly no spread
    s = Summary("number")
    for n in (3, 1, 5):
        s.merge(n, np.full(n, 0.1))
    s.merge(2, value=0.1)
    assert (s.count, s.mean, s.std) == (11, 0.1, 0.0)


def test_layout_of_numbers_around_a_date_and_three_category_columns(csv):
    t = read(csv("a,when,b,c1,c2,c3,y\n1,2024-01-01,10,r,x,p,0\n2,2024-03-16,20,g,y,q,1\n"
                 "3,1970-01-01,40,r,x,q,0\n4,2024-01-02,80,g,z,p,1\n"))
    p = fit(t)
    assert p.feature_names == ["a", "when:days", "when:dow_sin", "when:dow_cos",
                               "when:month_sin", "when:month_cos", "b", "c1=g", "c1=r",
                               "c2=x", "c2=y", "c2=z", "c3=p", "c3=q"]
    assert p.fit_notes == [
        'column "when" is a date: its inputs are the days since 1970 (standardized) and the '
        'day of the week and month on circles (when:days, when:dow_sin, when:dow_cos, '
        'when:month_sin, when:month_cos)']
    X = p.transform(t)
    b = np.array([10.0, 20.0, 40.0, 80.0])
    np.testing.assert_allclose(X.dense[:, 6], (b - b.mean()) / b.std(), rtol=1e-15)
    np.testing.assert_allclose(X.dense[:, 0], (np.arange(1, 5) - 2.5) / np.sqrt(1.25),
                               rtol=1e-15)
    np.testing.assert_allclose(X.dense[:, 2], np.sin(2 * np.pi * np.array([0, 5, 3, 1]) / 7),
                               atol=1e-15)
    assert X.codes.tolist() == [[8, 9, 12], [7, 10, 13], [8, 9, 13], [7, 11, 12]]


def test_prediction_columns_of_another_kind_or_with_gaps(csv):
    p = fit(read(csv("n,d,y\n1,2024-01-01,0\n2,2024-01-05,1\n3,2024-02-01,0\n", "tr.csv")))
    err = error_of(p.transform, read(csv("n,d\n2024-01-01,2024-01-01\n", "a.csv")))
    assert (err.row, err.column) == (None, "n")
    assert str(err).endswith('a.csv, column "n": the column holds dates where the model was '
                             'trained on numbers; check that it is the same column as in '
                             'training')
    err = error_of(p.transform, read(csv("n,d\n1,5\n2,6\n", "b.csv")))
    assert (err.row, err.column) == (None, "d")
    assert str(err).endswith('b.csv, column "d": the column holds numbers where the model '
                             'was trained on dates; check that it is the same column as in '
                             'training')
    err = error_of(p.transform, read(csv("n,d\n1,2024-01-01\n3,2024-01-01\n,2024-01-02\n",
                                         "c.csv")))
    assert (err.row, err.column) == (3, "n")
    assert str(err).endswith('c.csv, row 3, column "n": missing value (an empty cell or a '
                             'missing-value marker); fill it in (the model was trained '
                             'without imputing)')


def test_evaluation_targets_that_are_not_finite_numbers(csv):
    r = fit(read(csv("x,t\n1,0.5\n2,1.5\n3,2.25\n4,8.0\n", "reg.csv")))
    c = fit(read(csv("x,y\n1,0\n2,1\n3,0\n4,1\n", "cls.csv")))
    for p, name in ((r, "t"), (c, "y")):
        for cell in ("inf", "nan"):
            err = error_of(p.target_of, read(csv(f"x,{name}\n1,1\n2,{cell}\n", "e.csv")))
            assert (err.row, err.column) == (2, name)
            assert str(err).endswith(f'e.csv, row 2, column "{name}": NaN/inf is not allowed '
                                     f'("{cell}"); fix the value or remove the row')
        err = error_of(p.target_of, read(csv(f"x,{name}\n1,2024-01-01\n", "d.csv")))
        assert str(err).endswith(f'd.csv, column "{name}": the target column holds dates; '
                                 f'check that it is the same column as in training')
        # only the rows asked for are read
        t = read(csv(f"x,{name}\n1,1\n2,0\n3,inf\n", "rows.csv"))
        assert len(p.target_of(t, rows=np.array([0, 1]))) == 2
    # a regression target of words: the first asked-for row's word is named
    t = read(csv("x,t\n1,a\n2,b\n", "words.csv"))
    err = error_of(r.target_of, t, rows=np.array([1]))
    assert (err.row, err.column) == (2, "t")
    assert str(err).endswith('words.csv, row 2, column "t": "b" is not a number; fix the '
                             'value or remove the row')
    # numbers in a target column read as text are numbers
    t = read(csv("x,t\n1,1.5\n2,b\n3,8\n", "mixed.csv"), kinds={"t": "text"})
    np.testing.assert_array_equal(r.target_of(t, rows=np.array([0, 2]), scaled=False),
                                  [1.5, 8.0])
    err = error_of(r.target_of, t)
    assert (err.row, err.column) == (2, "t") and '"b" is not a number' in str(err)


@pytest.mark.parametrize("values,task,kind", [
    ([i % 20 for i in range(200)], "multiclass", "integer"),    # 20 values: classes
    ([i % 21 for i in range(210)], "regression", "number"),     # 21: more than 20
    ([i % 3 for i in range(15)], "multiclass", "integer"),      # 5 rows per value
    ([i % 3 for i in range(14)], "regression", "number"),       # fewer
    ([i % 2 for i in range(3)], "binary", "integer"),           # two values need no rows
    ([2 ** 53, 0, 2 ** 53, 0], "regression", "number"),         # past exact integers
    ([2 ** 53 - 1, 0, 2 ** 53 - 1, 0], "binary", "integer"),
])
def test_task_rules_at_their_boundaries(csv, values, task, kind):
    d = decide_task(read(csv(rows_of(values))))
    assert (d.task, d.label_kind) == (task, kind)


def test_targets_that_cannot_be_learned(csv):
    err = error_of(decide_task, read(csv(rows_of(["2024-01-01", "2024-01-02"]), "d.csv")))
    assert (err.column, err.fix) == ("y", ("target", None))
    assert str(err).endswith('d.csv, column "y": target "y" holds dates, which neuralcli '
                             'cannot predict; choose another target column (target=...)')
    err = error_of(decide_task, read(csv(rows_of(["a", "b", "a"]), "t.csv")),
                   task="regression")
    assert (err.row, err.column, err.fix) == (1, "y", ("task", "multiclass"))
    assert str(err).endswith('t.csv, row 1, column "y": target "y" holds text ("a"), which '
                             'regression cannot predict; choose a numeric target, or set '
                             'task="multiclass"')
    err = error_of(decide_task, read(csv(rows_of([1, 2, "nan", 1]), "n.csv")))
    assert (err.row, err.column) == (3, "y")
    assert str(err).endswith('n.csv, row 3, column "y": NaN/inf is not allowed ("nan"); fix '
                             'the value or remove the row')
    d = decide_task(read(csv(rows_of([0.5, 1.5, 0.5, 2.5]), "f.csv")), task="regression")
    assert (d.task, d.label_kind) == ("regression", "number")
    assert d.reason == 'target "y" has 3 distinct numeric values -> regression (chosen with ' \
                       '--task)'


def test_bad_cells_among_the_rows_asked_for(csv):
    # the reader keeps the text of a column's first bad and first non-finite cell; later
    # ones are named by row and kind
    p = fit(read(csv("a,d,y\n" + "".join(f"{i},2024-01-{i % 28 + 1:02d},{i % 2}\n"
                                          for i in range(40)), "tr.csv")))
    cells = {3: "inf", 7: "inf", 5: "x", 9: "x"}
    dates = {11: "2024-13-45", 13: "soon"}
    t = read(csv("a,d\n" + "".join(f"{cells.get(i, i)},{dates.get(i, '2024-02-01')}\n"
                                   for i in range(60)), "n.csv"))
    want = {0: 'row 4, column "a": NaN/inf is not allowed ("inf")',
            4: 'row 6, column "a": "x" is not a number',
            6: 'row 8, column "a": NaN/inf is not allowed',
            8: 'row 10, column "a": the value is not a number',
            10: 'row 12, column "d": "2024-13-45" is not a date',
            12: 'row 14, column "d": the value is not a date'}
    for first, message in want.items():
        err = error_of(p.transform, t, rows=np.arange(first, 60))
        assert str(err).endswith(f"n.csv, {message}; fix the value"), first
    assert p.transform(t, rows=np.arange(14, 60)).dense.shape == (46, 6)


def test_column_choices_that_leave_no_model(csv):
    t = read(csv("a,b,y\n1,2,0\n3,4,1\n", "a.csv"))
    want = [(dict(drop=["zz"]), 'a.csv: drop names "zz", which is not a column; the columns '
                                'are a, b, y', None),
            (dict(keep=["q", "r"]), 'a.csv: keep names "q", "r", which are not columns; the '
                                    'columns are a, b, y', None),
            (dict(drop=["y"]), 'a.csv: drop names the target column "y"; do not drop it, or '
                               'choose another target column (target=...)', ("target", None)),
            (dict(drop=["a", "b"]), 'a.csv: no feature columns besides the target "y"; a '
                                    'model needs at least one input column', None)]
    for kw, message, fix in want:
        err = error_of(fit, t, **kw)
        assert str(err).endswith(message) and err.fix == fix, kw
    # one column whose name holds another delimiter: the delimiter was wrong
    err = error_of(fit, read(csv("a;b;y\n1;2;0\n3;4;1\n", "s.csv"), delimiter=","))
    assert err.fix == ("delimiter", None)
    assert str(err).endswith('s.csv: no feature columns besides the target "a;b;y"; the '
                             'whole line was read as one column: the file seems to use '
                             'another delimiter, or give the delimiter (delimiter=...), or '
                             'leave it out to sniff it')
    # one column without such a character: only the general hint
    err = error_of(fit, read(csv("X\n0\n1\n0\n", "one.csv")))
    assert err.fix is None and str(err).endswith("a model needs at least one input column")


def test_fit_refuses_settings_and_rows_it_cannot_use(csv):
    t = read(csv("a,b,y\n1,2,0\n3,4,1\n", "a.csv"))
    err = error_of(fit, t, rows=np.array([], dtype=np.int64))
    assert str(err) == f"{t.path}: no training rows"
    assert str(error_of(Preprocessor().fit_chunks, [], decision=None)) == "no training rows"
    for bad in (0, None):
        err = error_of(fit, t, max_categories=bad)
        assert str(err) == f"max_categories must be at least 1, got {bad}"
        assert err.setting == "max_categories"
        assert err.message == f"must be at least 1, got {bad}"
    assert fit(t, max_categories=1).input_columns == ["a", "b"]


def test_one_named_column_to_drop_or_keep(csv):
    t = read(csv("color,price,y\nred,1,0\nblue,2,1\nred,3,0\n", "c.csv"))
    assert fit(t, drop="color").input_columns == ["price"]
    rows = "".join(f"u{i:03d},{i % 7},{i % 2}\n" for i in range(30))
    assert fit(read(csv("idcol,x,y\n" + rows, "ids.csv")), keep="idcol").ids == []


def test_a_date_cell_that_is_no_date_stops_the_fit(csv):
    t = read(csv("a,d,y\n" + "".join(f"{i},{'soon' if i == 7 else '2024-01-0%d' % (i % 9 + 1)}"
                                     f",{i % 2}\n" for i in range(40)), "d.csv"))
    assert t.data[1].kind == "date"
    err = error_of(fit, t)
    assert err.fix == ("drop", "d")
    assert str(err).endswith('d.csv, row 8, column "d": "soon" is not a date; fix the value, '
                             'or drop column d if it is not a feature (drop=[...])')


def test_problems_are_collected_with_their_column(csv):
    problems = []
    fit(read(csv("a,e,y\n1,,0\n2,,1\n3,,0\n", "e.csv")), problems=problems)
    assert [j for j, _ in problems] == [1]
    assert str(problems[0][1]).endswith('e.csv, column "e": the column has no values; drop '
                                        'column e if it is not a feature (drop=[...])')


def test_a_cap_equal_to_the_categories_needs_no_other_row(csv):
    t = read(csv("c,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate("abcdabcdab")),
                 "c.csv"))
    assert fit(t, max_categories=4).feature_names == ["c=a", "c=b", "c=c", "c=d"]
    assert fit(t, max_categories=3).feature_names[-1] == f"c={OTHER}"


def test_an_imputing_model_fills_gaps_its_training_rows_never_had(csv):
    p = fit(read(csv("c,n,y\na,1,0\nb,2,1\na,3,0\na,5,1\n", "tr.csv")),
            impute="most-frequent")
    X = p.transform(read(csv("c,n\n,2\nb,\n", "gaps.csv")))
    assert X.codes[:, 0].tolist() == [1, 2]             # the gap is "a", the most frequent
    assert X.dense[1, 0] == pytest.approx((1.0 - 2.75) / np.std([1.0, 2, 3, 5]))


@pytest.mark.parametrize("numbers,words,noted", [(11, 9, True), (10, 10, False), (2, 18, False)])
def test_the_note_on_a_mostly_numeric_text_column(tmp_path, numbers, words, noted):
    cells = [str(i) for i in range(numbers)] + [f"w{i}" for i in range(words)]
    rows = ["v,y"] + [f"{c},{i % 2}" for i, c in enumerate(cells)]
    path = tmp_path / "m.csv"
    path.write_text("\n".join(rows) + "\n")
    t = read(path)
    assert t.data[0].kind == "text"
    notes = [n for n in fit(t, keep=["v"]).fit_notes if "read as text" in n]
    assert bool(notes) == noted


def test_a_regression_target_of_small_spread_is_scaled_by_it(csv):
    values = [0.1, 0.2, 0.35, 0.3]
    p = fit(read(csv(rows_of(values), "s.csv")), task="regression")
    assert p.target_std == pytest.approx(np.std(values), rel=1e-12)
    assert not [n for n in p.fit_notes if "target" in n]


def test_float_labels_survive_the_model_file(csv):
    p = fit(read(csv(rows_of([0.5, 1.5, 0.5, 1.5]), "f.csv")), task="binary")
    q = Preprocessor.from_meta(*p.to_meta())
    assert q.classes.tolist() == [0.5, 1.5] and q.label_kind == "number"


def test_the_training_files_own_categories_beyond_the_cap_are_not_noted_again(csv):
    values = list("abcabcabcaad")
    t = read(csv("c,y\n" + "".join(f"{v},{i % 2}\n" for i, v in enumerate(values)), "t.csv"))
    p = fit(t, max_categories=2)
    p.transform(t, training=True)
    assert p.last_notes == []
    p.transform(t)
    assert p.last_notes == ['column "c": 4 rows have categories outside the 2 kept ("c", '
                            '"d"); they were encoded as the <other> input']


def test_input_kinds_say_how_training_read_each_column(csv):
    t = read(csv("n,c,d,y\n1,a,2024-01-01,0\n2,b,2024-01-02,1\n3,a,2024-01-03,0\n", "k.csv"))
    assert fit(t).input_kinds() == {"n": "number", "c": "text", "d": "date", "y": "number"}
    t = read(csv("n,y\n1,no\n2,yes\n3,no\n", "k2.csv"))
    assert fit(t).input_kinds() == {"n": "number", "y": "text"}


def test_features_that_are_all_identifiers_leave_no_model(csv):
    rows = "".join(f"u{i:03d},v{i:03d},{i % 2}\n" for i in range(30))
    t = read(csv("id,id2,y\n" + rows, "ids.csv"))
    err = error_of(fit, t)
    assert err.fix == ("keep_id", "id") and err.path == t.path
    assert str(err).endswith('ids.csv: no feature columns left besides the target "y": "id", '
                             '"id2" look like identifiers; keep column id as a feature '
                             '(keep=[...])')


def test_training_rows_of_one_class(csv):
    t = read(csv("x,y\n1,0\n2,1\n3,1\n4,0\n5,0\n6,0\n", "one.csv"))
    err = error_of(fit, t, rows=np.array([0, 3, 4, 5]))
    assert err.column == "y" and err.path == t.path
    assert str(err).endswith('one.csv, column "y": the training rows have only one class of '
                             '"y"; use more data or a smaller validation split')
    problems = []
    p = fit(t, rows=np.array([0, 3, 4, 5]), problems=problems)
    assert [j for j, _ in problems] == [1] and p.task is None
    assert "only one class" in str(problems[0][1])


def test_problem_columns_leave_the_others_fitted(csv):
    problems = []
    p = fit(read(csv("a,b,c,y\n,1,x,0\n,2,y,1\n,3,x,0\n", "e.csv")), problems=problems)
    assert [j for j, _ in problems] == [0] and p.input_columns == ["b", "c"]


def test_a_text_target_of_numbers_is_refused_for_regression(tmp_path):
    # a Parquet string column whose every cell is a number: no first word to show, so
    # the first row's text is named
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from neuralcli.parquet import read_parquet
    path = str(tmp_path / "s.parquet")
    pq.write_table(pa.table({"x": [1.0, 2.0, 3.0], "y": ["1.5", "2", "3"]}), path)
    t = read_parquet(path)
    assert t.data[1].kind == "text" and t.data[1].first_text is None
    err = error_of(decide_task, t, task="regression")
    assert (err.row, err.column) == (1, "y")
    assert 'target "y" holds text ("1.5"), which regression cannot predict' in str(err)


def test_number_formats_and_dropped_columns_survive_the_model_file(csv):
    t = read(csv("p,q,y\n12.5%,1,0\n3%,2,1\n40%,3,0\n7.5%,4,1\n", "pct.csv"))
    p = fit(t, drop=["q"])
    q = Preprocessor.from_meta(*p.to_meta())
    assert q.dropped == ["q"]
    assert q.specs[0]["number_format"] == p.specs[0]["number_format"]
    assert q.specs[0]["number_format"].percent is True
    np.testing.assert_array_equal(q.transform(t).dense, p.transform(t).dense)


def test_a_loaded_or_unfitted_preprocessor(csv):
    t = read(csv("n,c,y\n1,a,0\n,b,1\n3,,0\n5,a,1\n", "g.csv"))
    p = fit(t, impute="most-frequent")
    q = Preprocessor.from_meta(*p.to_meta())
    assert q.notes == [] and q.fitted
    gaps = read(csv("n,c\n,\n2,b\n", "gaps.csv"))
    X, Y = p.transform(gaps), q.transform(gaps)
    np.testing.assert_array_equal(X.dense, Y.dense)
    np.testing.assert_array_equal(X.codes, Y.codes)
    assert [s["fill"] for s in q.specs] == [1.0, "a"]
    err = error_of(Preprocessor().transform, t)
    assert str(err) == "the preprocessor has not been fitted"
    meta, arrays = p.to_meta()
    arrays["data.scale"] = arrays["data.scale"][:0]
    with pytest.raises(DataError, match="damaged"):
        Preprocessor.from_meta(meta, arrays)
    # one scaled column more than the columns say
    meta, arrays = p.to_meta()
    arrays["data.scale"] = np.append(arrays["data.scale"], 1.0)
    arrays["data.mean"] = np.append(arrays["data.mean"], 0.0)
    with pytest.raises(DataError, match=r"damaged \(scales do not match the number and "
                                        r"date columns\)"):
        Preprocessor.from_meta(meta, arrays)


def test_a_loaded_model_without_fills_refuses_gaps(csv):
    t = read(csv("n,c,y\n1,a,0\n2,b,1\n3,a,0\n5,a,1\n", "nf.csv"))
    q = Preprocessor.from_meta(*fit(t).to_meta())
    assert [s["fill"] for s in q.specs] == [None, None]
    for body, column in (("n,c\n,a\n", "n"), ("n,c\n1,\n", "c")):
        err = error_of(q.transform, read(csv(body, "gap.csv")))
        assert err.column == column and "missing value" in str(err)


def test_the_first_gap_in_the_file_is_reported_before_an_empty_column(csv):
    err = error_of(fit, read(csv("a,b,y\n,1,0\n,2,1\n,,0\n,4,1\n", "g.csv")))
    assert (err.row, err.column) == (3, "b") and "missing value" in str(err)
