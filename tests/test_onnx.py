"""ONNX export: onnxruntime runs the exported model on the same CSV rows as `neuralcli
predict` and must give the same labels, and probabilities and values within 1e-5; the
estimators' to_onnx() against their predict(); the command's errors as a user reads them.

The feeds are built from the CSV text with the csv module alone, as a deployment would:
numbers as floats (NaN for an empty cell or NA), dates as days since 1970, text as it is."""
import csv
import datetime
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import assert_close
from neuralcli.cli import cli
from neuralcli.model import Settings, TrainedModel
from neuralcli.network import ACTIVATIONS, MLP
from neuralcli.reader import read_table

CITIES = ["paris", "rome", "oslo", "kyiv", "lima"]
HIDDEN = [a for a, spec in ACTIVATIONS.items() if spec.hidden]


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error(result, *needles):
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def write_csv(path, task, n, seed, *, gaps=False, unseen=False, labels="text"):
    """A file of a number, a count, a city (text), a date and the target. gaps puts
    empty cells and NA markers in the features; unseen a city training never saw."""
    rng = np.random.default_rng(seed)
    rows = [["x", "count", "city", "when", "y"]]
    start = datetime.date(2019, 1, 1)
    for i in range(n):
        x = float(rng.normal(3, 2))
        count = int(rng.integers(0, 40))
        city = CITIES[int(rng.integers(0, 4))] if not (unseen and i % 7 == 3) else "quito"
        day = start + datetime.timedelta(days=int(rng.integers(0, 2000)))
        when = day.isoformat()
        if i % 3 == 0:
            when += f"T{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"
        score = x + count / 10 + CITIES.index(city if city in CITIES else "lima") \
            + 0.3 * day.weekday() + float(rng.normal(0, 0.5))
        if task == "regression":
            y = f"{40 * score + 100:.3f}"
        elif task == "binary":
            y = ("yes" if score > 6 else "no") if labels == "text" else str(int(score > 6))
        else:
            k = int(np.clip(score // 2.5, 0, 3))
            y = ["low", "mid", "high", "top"][k] if labels == "text" else str(k + 1)
        cells = [f"{x:.4f}", str(count), city, when, y]
        if gaps and i % 5 == 1:
            cells[0] = "" if i % 2 else "NA"
        if gaps and i % 6 == 2:
            cells[2] = "" if i % 4 else "NA"
        if gaps and i % 11 == 4:
            cells[3] = ""
        rows.append(cells)
    with open(path, "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return path


def _days(cell):
    if "T" not in cell:
        return float((datetime.date.fromisoformat(cell) - datetime.date(1970, 1, 1)).days)
    moment = datetime.datetime.fromisoformat(cell).replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp() / 86400.0


def feeds(session, path, dates=("when",)):
    """The session's inputs from the CSV's text, with nothing of neuralcli."""
    with open(path, newline="") as f:
        records = list(csv.DictReader(f))
    out = {}
    for inp in session.get_inputs():
        cells = [r[inp.name] for r in records]
        if inp.type == "tensor(string)":
            out[inp.name] = np.array(cells, dtype=object).reshape(-1, 1)
            continue
        missing = [c in ("", "NA") for c in cells]
        values = [np.nan if m else (_days(c) if inp.name in dates else float(c))
                  for c, m in zip(cells, missing)]
        dtype = np.float32 if inp.type == "tensor(float)" else np.float64
        out[inp.name] = np.array(values, dtype=dtype).reshape(-1, 1)
    return out


def session(ort, path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def predict_csv(model_path, data, tmp_path):
    """`neuralcli predict`'s columns: the labels as text and the numbers as floats."""
    out = tmp_path / "predictions.csv"
    result = run("predict", model_path, data, "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    with open(out, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def train(tmp_path, data, *, impute=None, max_categories=100, **settings):
    settings = Settings(**{"hidden": [8, 6], "epochs": 3, "batch_size": 16, **settings})
    model, _ = TrainedModel.fit(read_table(str(data)), settings, impute=impute,
                                max_categories=max_categories)
    path = tmp_path / "model.ncm"
    model.save(path)
    return model, path


def export(model_path, tmp_path):
    out = tmp_path / "model.onnx"
    result = run("export", model_path, "-o", out, "--force")
    assert result.exit_code == 0, result.stderr
    return out


def check_against_predict(ort, model_path, data, tmp_path):
    """Run the exported model on `data` and compare with `neuralcli predict` on it."""
    header, rows = predict_csv(model_path, data, tmp_path)
    sess = session(ort, export(model_path, tmp_path))
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, feeds(sess, data))))
    if header[1:] and header[1].startswith("p_"):
        assert names == ["label", "probabilities"]
        want_labels = [r[0] for r in rows]
        got_labels = [str(v) for v in got["label"].tolist()]
        assert got_labels == want_labels
        want = np.array([[float(v) for v in r[1:]] for r in rows])
        assert_close(got["probabilities"], want, 0, 1e-5, "probabilities")
        return got
    assert names == ["value"]
    want = np.array([[float(r[0])] for r in rows])
    assert_close(got["value"], want, 1e-5, 1e-5, "value")
    return got


# ------------------------------------------------------------------ whole models


CASES = {
    # task, labels, the model's settings, impute, max_categories
    "binary-text-relu-f32-other": ("binary", "text", dict(activation="relu"), "mean", 3),
    "binary-numbers-mse-f64": ("binary", "numbers", dict(loss="mse", dtype="float64"),
                               "median", 100),
    "multiclass-text-f64": ("multiclass", "text", dict(activation="tanh", dtype="float64"),
                            "most-frequent", 100),
    "multiclass-numbers-mse-f32": ("multiclass", "numbers", dict(loss="mse"), "mean", 2),
    "regression-gelu-f32": ("regression", "text", dict(activation="gelu"), "mean", 3),
    "regression-mae-f64": ("regression", "text", dict(loss="mae", dtype="float64"),
                           "median", 100),
}


@pytest.mark.parametrize("case", list(CASES))
def test_onnx_model_predicts_as_predict(ort, tmp_path, case):
    """Imputed cells (empty and NA) in every kind of column, categories cut to <other> or
    kept whole, categories never seen in training, dates with times of day."""
    task, labels, settings, impute, cap = CASES[case]
    data = write_csv(tmp_path / "train.csv", task, 160, 1, gaps=True, labels=labels)
    model, path = train(tmp_path, data, impute=impute, max_categories=cap, **settings)
    assert model.task == task
    assert [s["kind"] for s in model.pre.specs] == ["number", "number", "text", "date"]
    new = write_csv(tmp_path / "new.csv", task, 70, 2, gaps=True, unseen=True,
                    labels=labels)
    check_against_predict(ort, path, new, tmp_path)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", HIDDEN)
def test_every_hidden_activation(ort, tmp_path, activation, dtype):
    data = write_csv(tmp_path / "train.csv", "multiclass", 80, 3, labels="numbers")
    model, path = train(tmp_path, data, activation=activation, dtype=dtype, epochs=2)
    assert model.net.activations[0] == activation
    got = check_against_predict(ort, path, data, tmp_path)
    assert got["label"].dtype == np.int64
    assert got["probabilities"].dtype == np.dtype(dtype)


def test_without_dense_inputs_and_without_imputing(ort, tmp_path):
    """A model of one text column only (the first layer all gathered rows), trained
    without imputing: an unseen category of a column without <other> gives zeros."""
    lines = ["city,y"] + [f"{CITIES[i % 4]},{'yes' if i % 4 < 2 else 'no'}"
                          for i in range(40)]
    data = tmp_path / "train.csv"
    data.write_text("\n".join(lines) + "\n")
    model, path = train(tmp_path, data, hidden=[4])
    assert model.pre.n_dense == 0
    new = tmp_path / "new.csv"
    new.write_text("city,y\nrome,yes\nquito,no\noslo,no\n")
    check_against_predict(ort, path, new, tmp_path)


def test_local_number_formats_arrive_converted(ort, tmp_path):
    """Numbers written with a decimal comma, thousands separators and percent signs are
    passed as the plain numbers the reader makes of them (docs/export.md)."""
    rng = np.random.default_rng(11)
    lines = ["amount;rate;y"]
    for _ in range(80):
        amount, rate = float(rng.uniform(100, 9000)), float(rng.uniform(0, 40))
        # 1.234,56 and 12,5%
        amount_cell = f"{amount:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")
        rate_cell = f"{rate:.1f}".replace(".", ",") + "%"
        label = "hi" if amount / 300 + rate > 25 else "lo"
        lines.append(f"{amount_cell};{rate_cell};{label}")
    data = tmp_path / "local.csv"
    data.write_text("\n".join(lines) + "\n")
    model, path = train(tmp_path, data)
    assert set(model.pre.input_formats()) == {"amount", "rate"}
    _, rows = predict_csv(path, data, tmp_path)
    sess = session(ort, export(path, tmp_path))
    cells = [line.split(";") for line in lines[1:]]

    def plain(text):
        return float(text.rstrip("%").replace(".", "").replace(",", "."))

    feeds_ = {name: np.array([[plain(c[j])] for c in cells], dtype=np.float32)
              for j, name in enumerate(["amount", "rate"])}
    label, proba = sess.run(None, feeds_)
    assert label.tolist() == [r[0] for r in rows]
    assert_close(proba, np.array([[float(v) for v in r[1:]] for r in rows]), 0, 1e-5,
                 "probabilities")


def test_inputs_outputs_and_pinned_versions(ort, tmp_path):
    import onnx

    from neuralcli import onnx_export

    data = write_csv(tmp_path / "train.csv", "binary", 60, 4, gaps=True)
    model, path = train(tmp_path, data, impute="mean")
    out = export(path, tmp_path)
    proto = onnx.load(str(out))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.ir_version == onnx_export.IR_VERSION == 8
    assert {(o.domain, o.version) for o in proto.opset_import} == \
        {("", 17), ("ai.onnx.ml", 3)}
    assert "ZipMap" not in {n.op_type for n in proto.graph.node}
    kinds = {i.name: (onnx.TensorProto.DataType.Name(i.type.tensor_type.elem_type),
                      [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
             for i in proto.graph.input}
    assert kinds == {"x": ("FLOAT", ["N", 1]), "count": ("FLOAT", ["N", 1]),
                     "city": ("STRING", ["N", 1]), "when": ("DOUBLE", ["N", 1])}
    assert [o.name for o in proto.graph.output] == ["label", "probabilities"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["target"] == "y" and meta["task"] == "binary"


def test_dates_across_the_calendar(ort, tmp_path):
    """The graph's five date inputs (the day of the week and the month by integer
    arithmetic) against the preprocessing's on every day of 1896-2104 (leap centuries,
    days before 1970), with times of day."""
    import onnx

    from neuralcli import onnx_export

    days = np.arange(-27000, 49000) + (np.arange(76000) % 5) / 5.0
    lines = ["when,y"] + [f"{_moment(d)},{i % 2}" for i, d in enumerate(days)]
    data = tmp_path / "dates.csv"
    data.write_text("\n".join(lines) + "\n")
    table = read_table(str(data))
    model, _ = TrainedModel.fit(table, Settings(hidden=[2], epochs=1, dtype="float64",
                                                val_split=0))
    proto = onnx_export.export_model(model)
    # the five inputs the graph computes, as an extra output
    proto.graph.output.append(onnx.helper.make_tensor_value_info(
        "dense_inputs", onnx.TensorProto.DOUBLE, ["N", 5]))
    sess = ort.InferenceSession(proto.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    got = sess.run(["dense_inputs"], {"when": days.reshape(-1, 1)})[0]
    want = model.pre.transform(table, dtype=np.float64).dense
    assert_close(got, want, 0, 1e-12, "date inputs")


def _moment(days):
    """The ISO date-time of a day count since 1970 (a fifth of a day is exact)."""
    return str(np.datetime64(int(round(days * 86400)), "s"))


# ------------------------------------------------------------------ networks and estimators


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("last", ["identity", "sigmoid", "softmax", "step"])
def test_bare_network_every_activation(ort, dtype, last):
    """Every activation of the table, hidden ones in turn and each output one, against
    the C core's forward pass."""
    from neuralcli import onnx_export

    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, (64, 5))
    for act in HIDDEN:
        net = MLP([5, 7, 6, 3], [act, act, last], dtype=dtype, seed=3)
        proto = onnx_export.export_network(net)
        sess = ort.InferenceSession(proto.SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        got = sess.run(None, {"input": x.astype(dtype)})[0]
        want = net.forward(x)
        assert got.dtype == np.dtype(dtype)
        # onnxruntime's Erf is float's alone, a float64 gelu's erf with it
        tol = 2e-6 if dtype == "float32" or act == "gelu" else 1e-12
        assert_close(got, want, tol, tol, f"{act} then {last}")


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("labels", [["cat", "dog"], [3, 7, 9], ["a", "b", "c", "d"]])
def test_classifier_to_onnx(ort, dtype, labels):
    from neuralcli.estimators import MLPClassifier

    rng = np.random.default_rng(7)
    X = rng.normal(0, 1, (120, 4))
    y = np.array(labels)[(X[:, 0] * 2 + X[:, 1] > 0).astype(int) +
                         (len(labels) > 2) * (X[:, 2] > 0.5)]
    est = MLPClassifier((6,), activation="elu", max_iter=5, random_state=0,
                        dtype=dtype).fit(X, y)
    proto = est.to_onnx()
    sess = ort.InferenceSession(proto.SerializeToString(),
                                providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"]
    assert sess.get_inputs()[0].shape == ["N", 4]
    label, proba = sess.run(["label", "probabilities"], {"input": X.astype(dtype)})
    np.testing.assert_array_equal(label, est.predict(X))
    assert_close(proba, est.predict_proba(X), 0, 1e-5, "probabilities")


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("outputs", [1, 2])
def test_regressor_to_onnx(ort, dtype, outputs):
    from neuralcli.estimators import MLPRegressor

    rng = np.random.default_rng(8)
    X = rng.normal(0, 1, (100, 3))
    y = X @ rng.normal(0, 1, (3, outputs)) + 5
    est = MLPRegressor((5,), activation="swish", max_iter=5, random_state=0,
                       dtype=dtype).fit(X, y[:, 0] if outputs == 1 else y)
    sess = ort.InferenceSession(est.to_onnx().SerializeToString(),
                                providers=["CPUExecutionProvider"])
    (value,) = sess.run(None, {"input": X.astype(dtype)})
    assert value.shape == (100, outputs)
    want = est.predict(X).reshape(100, outputs)
    assert_close(value, want, 1e-5, 1e-5, "value")


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_export_of_an_estimator_file(ort, tmp_path):
    """`neuralcli export` of an estimator's model file gives its bare network."""
    from neuralcli.estimators import MLPClassifier

    rng = np.random.default_rng(9)
    X = rng.normal(0, 1, (50, 3))
    y = np.where(X[:, 0] > 0, "up", "down")
    est = MLPClassifier((4,), max_iter=3, random_state=0).fit(X, y)
    est.save(tmp_path / "est.ncm")
    result = run("export", tmp_path / "est.ncm")
    assert result.exit_code == 0, result.stderr
    assert "input" in result.stdout and "label" in result.stdout
    sess = session(ort, tmp_path / "est.onnx")
    label, _ = sess.run(None, {"input": X.astype(np.float32)})
    np.testing.assert_array_equal(label, est.predict(X))


# ------------------------------------------------------------------ the command's errors


@pytest.fixture
def model_file(tmp_path):
    data = write_csv(tmp_path / "train.csv", "binary", 40, 6)
    return train(tmp_path, data, epochs=1)[1]


def test_export_writes_and_describes(ort, tmp_path, model_file):
    result = run("--no-color", "export", model_file)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "model.onnx").exists()
    for word in ("Inputs", "Outputs", "city", "string", "probabilities", "[N, 1]"):
        assert word in result.stdout
    assert "wrote" in result.stderr and "IR version 8, opset 17" in result.stderr


def test_help_has_examples():
    result = run("export", "--help")
    assert result.exit_code == 0 and "Examples:" in result.stdout
    assert "docs/export.md" in result.stdout


def test_missing_model_file(tmp_path):
    one_error(run("export", tmp_path / "nope.ncm", "-o", tmp_path / "m.onnx"), "nope.ncm")
    assert not (tmp_path / "m.onnx").exists()


def test_not_a_model_file(tmp_path):
    bad = tmp_path / "data.csv"
    bad.write_text("a,b\n1,2\n")
    one_error(run("export", bad, "-o", tmp_path / "m.onnx"), "not a neuralcli model file")
    assert not (tmp_path / "m.onnx").exists()


def test_output_directory_missing(ort, tmp_path, model_file):
    target = tmp_path / "no" / "such" / "m.onnx"
    one_error(run("export", model_file, "-o", target), "does not exist",
              str(tmp_path / "no" / "such"))


def test_existing_output_needs_force(ort, tmp_path, model_file):
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    one_error(run("export", model_file, "-o", out), "already exists", "--force")
    assert out.read_bytes() == b"keep me"
    assert run("export", model_file, "-o", out, "--force").exit_code == 0
    assert out.read_bytes() != b"keep me"


def test_output_onto_the_model_file(ort, tmp_path, model_file):
    before = model_file.read_bytes()
    one_error(run("export", model_file, "-o", model_file, "--force"), "model file itself")
    assert model_file.read_bytes() == before


def test_column_named_as_an_output(ort, tmp_path):
    lines = ["label,y"] + [f"{i % 5},{i % 2}" for i in range(30)]
    data = tmp_path / "d.csv"
    data.write_text("\n".join(lines) + "\n")
    path = train(tmp_path, data, epochs=1)[1]
    one_error(run("export", path), "column 'label'", "rename the column")


def test_without_onnx_names_the_extra(tmp_path, model_file, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)   # import onnx raises ImportError
    line = one_error(run("export", model_file, "-o", tmp_path / "m.onnx"))
    assert 'pip install "neuralcli[onnx]"' in line
    assert not (tmp_path / "m.onnx").exists()
