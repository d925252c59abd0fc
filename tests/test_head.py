"""neuralcli.head, what each task asks of the network's output, and the seams the command
line reads through: TrainedModel's encoding and prediction rows, and a Table's cells as
text. The command line's model and the estimators decide, encode, weigh and read their
outputs through the same functions; these tests pin those functions to plain numpy."""
import csv
import io

import numpy as np
import pytest
from click.testing import CliRunner

import neuralcli
from neuralcli import head
from neuralcli.cli import cli
from neuralcli.estimators import MLPClassifier, MLPRegressor
from neuralcli.head import OutputSpec, output_spec
from neuralcli.model import Settings, TrainedModel
from neuralcli.reader import read_table
from neuralcli.training import TrainingError


# ------------------------------------------------------------------ the output decision

@pytest.mark.parametrize("task, loss, want", [
    ("binary", "auto", OutputSpec(1, "identity", "bce", "sigmoid")),
    ("binary", "binary_crossentropy", OutputSpec(1, "identity", "bce", "sigmoid")),
    ("binary", "mse", OutputSpec(1, "sigmoid", "mse", "none")),
    ("multiclass", None, OutputSpec(4, "identity", "cross_entropy", "softmax")),
    ("multiclass", "ce", OutputSpec(4, "identity", "cross_entropy", "softmax")),
    ("multiclass", "cross-entropy", OutputSpec(4, "identity", "cross_entropy", "softmax")),
    ("multiclass", "mse", OutputSpec(4, "softmax", "mse", "none")),
    ("regression", "auto", OutputSpec(3, "identity", "mse", "none")),
    ("regression", "mae", OutputSpec(3, "identity", "mae", "none")),
])
def test_output_spec_of_each_task_and_loss(task, loss, want):
    assert output_spec(task, 4, 3, loss) == want


@pytest.mark.parametrize("task, loss", [("binary", "mae"), ("regression", "bce"),
                                        ("multiclass", "hinge")])
def test_output_spec_refuses_a_loss_that_does_not_fit(task, loss):
    with pytest.raises(TrainingError, match=f"loss '{loss}' does not fit a {task} task"):
        output_spec(task, 3, 1, loss)


def test_model_and_estimators_decide_the_same_output(tmp_path):
    X = np.random.default_rng(0).standard_normal((40, 2))
    for k in (2, 3):
        y = np.arange(40) % k
        clf = _quiet(MLPClassifier((3,), max_iter=2, random_state=0), X, y)
        task = "binary" if k == 2 else "multiclass"
        spec = output_spec(task, k, 1)
        assert clf._output() == spec and clf.n_outputs_ == spec.n_out
        assert clf.out_activation_ == ("logistic" if k == 2 else "softmax")
        rows = "x0,x1,y\n" + "".join(f"{a!r},{b!r},c{c}\n"
                                      for (a, b), c in zip(X.tolist(), y))
        path = tmp_path / f"d{k}.csv"
        path.write_text(rows)
        model, _ = TrainedModel.fit(read_table(str(path)), Settings(hidden=[3], epochs=1))
        assert model.spec == spec
    reg = _quiet(MLPRegressor((3,), max_iter=2, random_state=0, loss="absolute_error"), X,
                 np.column_stack([X[:, 0], X[:, 1]]))
    assert reg._output(2) == output_spec("regression", 0, 2, "mae")
    assert reg.n_outputs_ == 2 and reg.out_activation_ == "identity"


def _quiet(est, X, y):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(X, y)


# ------------------------------------------------------------------ targets and weights

def test_encode_targets_in_the_form_each_loss_kernel_takes():
    idx = np.array([2, 0, 1, 2])
    ce = head.encode_targets(idx, output_spec("multiclass", 3, 1), "multiclass")
    assert ce.dtype == np.int32 and ce.tolist() == [2, 0, 1, 2]
    mse = output_spec("multiclass", 3, 1, "mse")
    onehot = head.encode_targets(idx, mse, "multiclass")
    np.testing.assert_array_equal(onehot, np.eye(3)[idx])
    for loss in ("bce", "mse"):
        b = head.encode_targets(np.array([1, 0, 1]), output_spec("binary", 2, 1, loss),
                                "binary")
        assert b.dtype == np.float64 and b.tolist() == [[1.0], [0.0], [1.0]]
    y = np.array([[1.5, -2.0], [0.25, 3.0]])
    r = head.encode_targets(y, output_spec("regression", 0, 2), "regression")
    assert r.dtype == np.float64 and np.array_equal(r, y)
    assert head.encode_targets(y[:, 0], output_spec("regression", 0, 1),
                               "regression").shape == (2, 1)


def test_balanced_class_weights_are_n_over_k_counts():
    counts = np.array([6, 3, 1, 0])
    w = head.balanced_class_weights(counts)
    # n = 10 rows over k = 4 classes; the class without rows counts as one
    np.testing.assert_array_equal(w, 10 / (4 * np.array([6.0, 3.0, 1.0, 1.0])))
    assert (w[:3] * counts[:3]).tolist() == pytest.approx([2.5] * 3, rel=1e-15)


# ------------------------------------------------------------------ the probability link

def _softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_probabilities_of_each_link(dtype):
    rng = np.random.default_rng(1)
    logit = (rng.standard_normal((9, 1)) * 40).astype(dtype)
    p = head.probabilities(logit, output_spec("binary", 2, 1), "binary")
    s = 1 / (1 + np.exp(-logit[:, 0].astype(np.float64)))
    assert p.dtype == dtype
    np.testing.assert_allclose(p, np.column_stack([1 - s, s]), rtol=0,
                               atol=np.finfo(dtype).eps * 2)
    z = (rng.standard_normal((9, 4)) * 40).astype(dtype)
    kept = z.copy()
    p = head.probabilities(z, output_spec("multiclass", 4, 1), "multiclass")
    assert p.dtype == dtype and np.array_equal(z, kept)   # the caller's outputs untouched
    np.testing.assert_allclose(p, _softmax(z), rtol=0, atol=np.finfo(dtype).eps * 4)


def test_probabilities_of_outputs_read_directly():
    spec = output_spec("binary", 2, 1, "mse")
    p = head.probabilities(np.array([[-0.5], [0.25], [1.5]]), spec, "binary")
    np.testing.assert_array_equal(p, [[1.0, 0.0], [0.75, 0.25], [0.0, 1.0]])
    spec = output_spec("multiclass", 3, 1, "mse")
    out = np.array([[0.2, 0.6, 0.2], [-1.0, 3.0, 1.0], [-1.0, 0.0, 0.0]])
    p = head.probabilities(out, spec, "multiclass")
    np.testing.assert_allclose(p, [[0.2, 0.6, 0.2], [0.0, 0.75, 0.25], [1 / 3] * 3],
                               rtol=1e-15)
    assert head.probabilities(out, output_spec("regression", 0, 3), "regression") is None


# ------------------------------------------------------------------ the thread count

def test_threads_for_a_block_and_restored_after(threads):
    threads(2)
    with head.threads(1) as used:
        assert used == 1 == neuralcli.get_num_threads()
    assert neuralcli.get_num_threads() == 2
    with head.threads(None) as used:
        assert used == 2
    with pytest.raises(RuntimeError):
        with head.threads(1):
            raise RuntimeError
    assert neuralcli.get_num_threads() == 2


def test_estimators_and_model_restore_the_thread_count(threads, tmp_path):
    threads(2)
    X = np.random.default_rng(0).standard_normal((30, 2))
    clf = _quiet(MLPClassifier((3,), max_iter=2, random_state=0, n_threads=1), X,
                 np.arange(30) % 2)
    clf.predict_proba(X)
    assert neuralcli.get_num_threads() == 2
    path = tmp_path / "d.csv"
    path.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(30)))
    model, _ = TrainedModel.fit(read_table(str(path)), Settings(hidden=[3], epochs=1),
                                threads=1)
    assert model.info["threads"] == 1 and neuralcli.get_num_threads() == 2


# ------------------------------------------------------------------ seams of the CLI

def _shop(tmp_path):
    """A file with a kept ID, a date with and without a time of day, and number and text
    columns with missing cells that the model does not read."""
    lines = ["id,when,x,score,note,y"]
    for i in range(40):
        when = f"2024-03-{i % 28 + 1:02d}" + ("T06:30:00" if i % 7 == 0 else "")
        score = "" if i % 5 == 0 else repr(i * 1.1)
        note = "" if i % 4 == 0 else ["calm", "loud, late", "ok"][i % 3]
        lines.append(f'r{i},{when},{i * 0.25},{score},"{note}",{["no", "yes"][i % 2]}')
    path = tmp_path / "shop.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_table_cells_as_text(tmp_path):
    table = read_table(_shop(tmp_path))
    texts = table.row_texts([table.find(c) for c in ("id", "when", "x", "score", "note")])
    assert texts[0] == ["r0", "2024-03-01T06:30:00", "0", "", ""]
    assert texts[1] == ["r1", "2024-03-02", "0.25", "1.1", "loud, late"]
    assert len(texts) == 40 and table.row_texts([]) == [[]] * 40
    for column in table.data:
        assert [column.text(i) for i in range(40)] == column.texts()


def test_prediction_rows_are_what_predict_writes(tmp_path):
    data = _shop(tmp_path)
    table = read_table(data)
    fitted, _ = TrainedModel.fit(table, Settings(hidden=[4], epochs=3, dtype="float64"),
                                 target="y", drop=["score", "note"])
    path = tmp_path / "m.ncm"
    fitted.save(path)
    model = TrainedModel.load(path)
    keep = ["id", "when", "x", "score", "note"]
    args = ["predict", str(path), data] + [a for c in keep for a in ("--keep", c)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.stderr
    kept = [table.find(c) for c in keep]
    want = [keep + model.prediction_columns()] + [
        cells + values for cells, values in zip(table.row_texts(kept),
                                                model.prediction_rows(table))]
    assert list(csv.reader(io.StringIO(result.stdout))) == want
    assert want[0][len(keep):] == ["predicted_y", "p_no", "p_yes"]
    _, _, proba, pred = model.predict_table(table)
    got = model.prediction_rows(table)
    assert [r[0] for r in got] == model.pre.label_names(pred)
    assert np.array_equal(np.array([[float(v) for v in r[1:]] for r in got]), proba)


def test_prediction_rows_of_a_regression(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("x,t\n" + "".join(f"{i},{i * 0.5 + (i % 3)}\n" for i in range(30)))
    table = read_table(str(path))
    model, _ = TrainedModel.fit(table, Settings(hidden=[3], epochs=2, dtype="float64"))
    assert model.prediction_columns() == ["predicted_t"]
    _, _, proba, pred = model.predict_table(table)
    rows = model.prediction_rows(table)
    assert proba is None and all(len(r) == 1 for r in rows)
    assert np.array_equal([float(r[0]) for r in rows], pred)


def test_encode_inputs_and_targets_as_training_takes_them(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("x,c,y\n" + "".join(f"{i},{'pq'[i % 2]},{'abc'[i % 3]}\n"
                                        for i in range(30)))
    table = read_table(str(path))
    for loss in ("auto", "mse"):
        model, _ = TrainedModel.fit(table, Settings(hidden=[3], epochs=1, loss=loss))
        X = model.encode_inputs(table, rows=[4, 7])
        want = model.pre.transform(table, rows=[4, 7], dtype=model.net.dtype)
        assert np.array_equal(X.to_dense(model.pre.n_features),
                              want.to_dense(model.pre.n_features))
        t = model.encode_targets(model.pre.target_of(table, rows=[4, 7]))
        if loss == "auto":
            assert t.dtype == np.int32 and t.tolist() == [1, 1]
        else:
            np.testing.assert_array_equal(t, [[0, 1, 0], [0, 1, 0]])
