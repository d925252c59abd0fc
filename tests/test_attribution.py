"""Attributions: permutation importance over a data set, and integrated gradients of one
row through the engine's own backward kernels."""
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

import reference as ref
from helpers import assert_bitwise_equal
from neuralcli import head
from neuralcli.attribution import (DEFAULT_STEPS, _dense_network, integrated_gradients,
                                   output_function)
from neuralcli.cli import cli
from neuralcli.importance import Importance, permutation_importance
from neuralcli.model import Settings, TrainedModel
from neuralcli.reader import read_table


def _csv(path, header, rows):
    path.write_text(",".join(header) + "\n" +
                    "".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def _generated(path, task, n=400, seed=3):
    """A table whose target depends on `signal` (and, for a classifier, on `colour`), not
    on `noise`."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    noise = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    shift = np.select([colour == "red", colour == "green"], [0.8, -0.8], 0.0)
    if task == "regression":
        y = [f"{v:.6f}" for v in 3 * signal + 0.5 * shift]
    elif task == "multiclass":
        v = signal + 0.4 * shift
        y = np.select([v < -0.5, v < 0.5], ["low", "mid"], "high")
    else:
        y = np.where(2.5 * signal + shift > 0, "yes", "no")
    rows = zip([f"{v:.6f}" for v in signal], [f"{v:.6f}" for v in noise], colour, y)
    return read_table(_csv(path, ["signal", "noise", "colour", "y"], rows))


def _train(table, **kw):
    settings = dict(hidden=[16], epochs=60, dtype="float64", val_split=0.0, seed=1)
    settings.update(kw)
    model, _ = TrainedModel.fit(table, Settings(**settings))
    return model


@pytest.fixture(scope="module", params=["binary", "regression"])
def trained(request, tmp_path_factory):
    table = _generated(tmp_path_factory.mktemp("imp") / "d.csv", request.param)
    return _train(table), table


# ------------------------------------------------------------------ permutation importance

def test_importance_ranks_the_signal_first_and_the_noise_near_zero(trained):
    model, table = trained
    got = permutation_importance(model, table, repeats=5, seed=0)
    assert all(isinstance(g, Importance) for g in got)
    assert [g.column for g in got][0] == "signal"
    assert sorted(g.column for g in got) == ["colour", "noise", "signal"]
    by = {g.column: g for g in got}
    assert by["signal"].mean > 0.3, by["signal"]
    assert abs(by["noise"].mean) < 0.03, by["noise"]
    assert by["signal"].low > by["noise"].high
    for g in got:
        assert g.low <= g.mean <= g.high
        assert len(g.drops) == 5 and min(g.drops) == g.low and max(g.drops) == g.high
        assert g.metric == ("r2" if model.task == "regression" else "accuracy")
    means = [g.mean for g in got]
    assert means == sorted(means, reverse=True)


def test_importance_is_the_drop_of_evals_metric_on_the_shuffled_column(trained):
    """One repeat's drop is the metric on the table as it is minus the metric on the
    table with that column's raw values shuffled by the same permutation, computed from
    the table afresh."""
    from neuralcli import metrics

    model, table = trained
    got = {g.column: g for g in permutation_importance(model, table, repeats=2, seed=7)}
    perm = np.random.default_rng(7).permutation(table.n_rows)

    def metric(t):
        _, _, _, pred = model.predict_table(t)
        if model.task == "regression":
            return metrics.r2(model.pre.target_of(t, scaled=False), pred)
        return metrics.accuracy(model.pre.target_of(t), pred)

    base = metric(table)
    for name in ("signal", "noise", "colour"):
        j = table.columns.index(name)
        data = list(table.data)
        data[j] = data[j].take(perm)
        shuffled = type(table)(table.columns, data, path=table.path)
        assert got[name].drops[0] == pytest.approx(base - metric(shuffled), abs=1e-12)


def test_importance_is_seeded(trained):
    model, table = trained
    a = permutation_importance(model, table, repeats=3, seed=4)
    b = permutation_importance(model, table, repeats=3, seed=4)
    c = permutation_importance(model, table, repeats=3, seed=5)
    assert a == b
    assert [g.drops for g in a] != [g.drops for g in c]


def test_importance_checks_its_arguments(trained):
    model, table = trained
    with pytest.raises(ValueError, match="repeats must be at least 1, got 0"):
        permutation_importance(model, table, repeats=0)
    with pytest.raises(ValueError, match="at least 2 rows, got 1"):
        permutation_importance(model, table.take([0]))


# ------------------------------------------------------------------ integrated gradients

# (task, loss, hidden activation, dtype): every output link, several activations
CASES = [("binary", "auto", "relu", "float64"), ("binary", "auto", "tanh", "float64"),
         ("binary", "mse", "gelu", "float64"), ("multiclass", "auto", "leaky_relu", "float64"),
         ("multiclass", "auto", "elu", "float32"), ("multiclass", "mse", "swish", "float64"),
         ("regression", "auto", "relu", "float64"), ("regression", "auto", "sigmoid",
                                                     "float32")]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("ig")
    tables = {task: _generated(d / f"{task}.csv", task, n=240)
              for task in ("binary", "multiclass", "regression")}
    cache = {}

    def get(task, loss, act, dtype):
        key = (task, loss, act, dtype)
        if key not in cache:
            cache[key] = _train(tables[task], hidden=[12, 8], activation=act, loss=loss,
                                dtype=dtype, epochs=40), tables[task]
        return cache[key]
    return get


def _row(model, table, r):
    return model.encode_inputs(table, rows=[r])


@pytest.mark.parametrize("case", CASES, ids=["-".join(c) for c in CASES])
def test_attributions_add_up_to_the_change_of_the_output(models, case):
    """Completeness: at the default steps the attributions add up to f(row) - f(baseline)
    within 1e-3, for the predicted class's probability (or the prediction) and another
    class's; f at both ends is the model's own output for them."""
    model, table = models(*case)
    for r in (0, 11, 57):
        X = _row(model, table, r)
        indices = [None] if model.task == "regression" else [None, 0]
        for index in indices:
            ig = integrated_gradients(model, X, index=index)
            assert ig.steps == DEFAULT_STEPS and ig.points >= DEFAULT_STEPS + 1
            assert abs(ig.error) < 1e-3, (r, index, ig)
            assert ig.error == ig.total - (ig.f_row - ig.f_baseline)
            assert ig.total == pytest.approx(sum(c.value for c in ig.columns), abs=1e-12)
            _, proba, pred = model.predict_inputs(X)
            tol = 1e-5 if model.net.dtype == np.float32 else 1e-10
            if model.task == "regression":
                assert ig.f_row == pytest.approx(float(np.ravel(pred)[0]), rel=tol)
            else:
                want = int(proba[0].argmax()) if index is None else index
                assert ig.index == want
                assert ig.output == f"P(y = {model.pre.class_names[want]})"
                assert ig.f_row == pytest.approx(float(proba[0, want]), abs=tol)
            base, _ = model.pre.input_means()
            f, _ = output_function(model, ig.index)
            dense = _dense_network(model.net)
            assert ig.f_baseline == pytest.approx(float(f(dense.forward(base[None]))[0]),
                                                  abs=tol)


def test_a_category_is_attributed_through_its_one_hot_block(models):
    """A categorical column's inputs are its one-hot block: the row's category at 1, the
    baseline at the categories' shares of the training rows, and the column's
    attribution the sum of its inputs'."""
    model, table = models("binary", "auto", "relu", "float64")
    X = _row(model, table, 4)
    ig = integrated_gradients(model, X)
    colour = next(c for c in ig.columns if c.column == "colour")
    assert [n for n, *_ in colour.inputs] == ["colour=blue", "colour=green", "colour=red"]
    cells = table.column("colour").texts()
    shares = [cells.count(c) / len(cells) for c in ("blue", "green", "red")]
    assert [b for _, _, b, _ in colour.inputs] == pytest.approx(shares, abs=1e-15)
    assert [v for _, v, _, _ in colour.inputs] == [float(cells[4] == c)
                                                   for c in ("blue", "green", "red")]
    assert colour.value == pytest.approx(sum(a for *_, a in colour.inputs), abs=1e-15)
    signal = next(c for c in ig.columns if c.column == "signal")
    assert signal.inputs[0][2] == 0.0  # a standardized number's training mean


def test_the_shares_count_missing_cells_as_their_fill_and_the_rest_as_other(tmp_path):
    """A categorical block's baseline is the mean of its one-hot inputs over the training
    rows: a filled cell counts as its fill category, and the categories beyond
    max_categories as the <other> input."""
    colours = ["red"] * 5 + ["blue"] * 3 + [""] * 2 + ["green"] * 2 + ["pink"] * 1 + \
        ["gold"] * 1
    rows = [(i % 7, c, "yes" if i % 2 else "no") for i, c in enumerate(colours)]
    table = read_table(_csv(tmp_path / "m.csv", ["n", "colour", "y"], rows))
    model, _ = TrainedModel.fit(table, Settings(hidden=[2], epochs=1, val_split=0.0),
                                impute="most-frequent", max_categories=3)
    means, unrecorded = model.pre.input_means()
    start, stop = next((a, b) for c, a, b, _ in model.pre.column_inputs() if c == "colour")
    assert model.pre.feature_names[start:stop] == ["colour=blue", "colour=green",
                                                   "colour=red", "colour=<other>"]
    assert list(means[start:stop]) == pytest.approx([3 / 14, 2 / 14, 7 / 14, 2 / 14],
                                                    abs=1e-15)
    assert means[0] == 0.0 and unrecorded == []


def test_a_date_column_is_its_five_inputs(tmp_path):
    """A date's five inputs are one column: for the attributions (the sum of its inputs,
    and completeness) and for the importance (the raw column shuffled)."""
    import datetime

    from neuralcli import metrics

    rng = np.random.default_rng(8)
    days = rng.integers(0, 700, 160)
    amount = rng.normal(size=160)
    start = datetime.date(2024, 1, 1)
    dates = [str(start + datetime.timedelta(days=int(d))) for d in days]
    y = ["yes" if d > 350 or a > 1 else "no" for d, a in zip(days, amount)]
    table = read_table(_csv(tmp_path / "d.csv", ["amount", "when", "y"],
                            zip([f"{a:.4f}" for a in amount], dates, y)))
    model = _train(table, hidden=[8], activation="tanh", epochs=40)
    assert model.pre.column_inputs() == [("amount", 0, 1, "number"),
                                         ("when", 1, 6, "date")]
    ig = integrated_gradients(model, _row(model, table, 5))
    when = ig.columns[1]
    assert [n for n, *_ in when.inputs] == ["when:days", "when:dow_sin", "when:dow_cos",
                                            "when:month_sin", "when:month_cos"]
    assert when.value == pytest.approx(sum(a for *_, a in when.inputs), abs=1e-15)
    assert abs(ig.error) < 1e-3
    got = {g.column: g for g in permutation_importance(model, table, repeats=1, seed=3)}
    perm = np.random.default_rng(3).permutation(table.n_rows)
    shuffled = type(table)(table.columns, [table.data[0], table.data[1].take(perm),
                                           table.data[2]], path=table.path)
    acc = [metrics.accuracy(model.pre.target_of(t), model.predict_table(t)[3])
           for t in (table, shuffled)]
    assert got["when"].mean == pytest.approx(acc[0] - acc[1], abs=1e-12)
    assert got["when"].mean > 0.1


def test_a_model_file_keeps_the_shares_and_one_without_them_is_uniform(models, tmp_path):
    model, table = models("binary", "auto", "relu", "float64")
    path = tmp_path / "m.ncm"
    model.save(path)
    loaded = TrainedModel.load(path)
    X = _row(model, table, 9)
    assert integrated_gradients(loaded, X) == integrated_gradients(model, X)
    for s in loaded.pre.specs:
        s.pop("freq", None)
    ig = integrated_gradients(loaded, X)
    assert ig.unrecorded == ("colour",)
    colour = next(c for c in ig.columns if c.column == "colour")
    assert [b for _, _, b, _ in colour.inputs] == [1 / 3] * 3
    assert abs(ig.error) < 1e-3


def test_a_damaged_share_record_is_refused(models):
    from neuralcli.errors import DataError
    from neuralcli.preprocess import Preprocessor

    model, _ = models("binary", "auto", "relu", "float64")
    meta, arrays = model.pre.to_meta()
    colour = next(c for c in meta["columns"] if c["name"] == "colour")
    assert colour["freq"] == model.pre.input_means()[0][-3:].tolist()
    colour["freq"] = colour["freq"][:2]
    with pytest.raises(DataError, match="'colour' has 2 category frequencies for 3 inputs"):
        Preprocessor.from_meta(meta, arrays)


def _points(model, n, seed):
    """Points on paths between a baseline and rows: numbers anywhere, one-hot blocks at
    fractions."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, model.pre.n_features))
    x[:, :model.pre.n_dense] = rng.standard_normal((n, model.pre.n_dense))
    return x


@pytest.mark.parametrize("case", [c for c in CASES if c[3] == "float64"],
                         ids=["-".join(c) for c in CASES if c[3] == "float64"])
def test_input_gradient_matches_finite_differences(models, case):
    model, _ = models(*case)
    net = _dense_network(model.net)
    x = _points(model, 5, 1)
    k = model.spec.n_out if model.task == "regression" else model.pre.n_classes
    for index in range(k):
        f, dout_fn = output_function(model, index)
        _, g = net.input_gradient(x, dout_fn)
        eps = 1e-6
        num = np.empty_like(x)
        for i in range(x.shape[1]):
            e = np.zeros(x.shape[1])
            e[i] = eps
            num[:, i] = (f(net.forward(x + e)) - f(net.forward(x - e))) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("case", [c for c in CASES if c[3] == "float64"],
                         ids=["-".join(c) for c in CASES if c[3] == "float64"])
def test_input_gradient_and_attributions_match_torch_autograd(models, case):
    """The gradient of f with respect to every one-hot input, and the attributions with
    the plain trapezoid rule, against PyTorch's autograd on the same weights."""
    torch = pytest.importorskip("torch")
    model, table = models(*case)
    net = model.net
    pre = model.pre

    def torch_f(x, index):
        h = x
        for w, b, act, p in zip(net.weights, net.biases, net.activations, net.act_params):
            h = ref.torch_activation(act, p)(h @ torch.tensor(w) + torch.tensor(b))
        if model.task == "regression":
            return h[:, index] * pre.target_std + pre.target_mean
        if model.spec.link == "sigmoid":
            p1 = torch.sigmoid(h[:, 0])
            return p1 if index == 1 else 1 - p1
        if model.spec.link == "softmax":
            return torch.softmax(h, dim=1)[:, index]
        if model.task == "binary":
            return h[:, 0] if index == 1 else 1 - h[:, 0]
        return h[:, index] / h.sum(dim=1)

    x = _points(model, 6, 2)
    index = 0 if model.task == "regression" else 1
    _, dout_fn = output_function(model, index)
    _, g = _dense_network(net).input_gradient(x, dout_fn)
    tx = torch.tensor(x, requires_grad=True)
    torch_f(tx, index).sum().backward()
    np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-9, atol=1e-12)

    X = _row(model, table, 3)
    ig = integrated_gradients(model, X, index=index, steps=16, refine=False)
    assert ig.points == 17
    row = X.to_dense(pre.n_features)[0]
    base, _ = pre.input_means()
    a = torch.tensor((np.arange(17) / 16)[:, None])
    path = (torch.tensor(base) + a * torch.tensor(row - base)).requires_grad_(True)
    torch_f(path, index).sum().backward()
    w = np.full(17, 1 / 16)
    w[[0, -1]] = 1 / 32
    want = (row - base) * (w @ path.grad.numpy())
    got = np.array([a for c in ig.columns for *_, a in c.inputs])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("case", [CASES[0], CASES[4]], ids=["float64", "float32"])
def test_attributions_do_not_depend_on_the_thread_count(models, case):
    model, table = models(*case)
    X = _row(model, table, 21)
    got = []
    for n in (1, 2):
        with head.threads(n):
            ig = integrated_gradients(model, X)
        got.append(np.array([a for c in ig.columns for *_, a in c.inputs] +
                            [ig.f_row, ig.f_baseline, ig.total, ig.points]))
    assert_bitwise_equal(got[0], got[1], "attributions at 1 and 2 threads")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_input_gradient_of_a_wide_network_does_not_depend_on_the_thread_count(dtype):
    """Sizes past the kernels' block edges, so that two threads split the work."""
    from neuralcli.network import MLP

    net = MLP([301, 257, 129, 3], ["tanh", "relu", "identity"], dtype=dtype, seed=5)
    x = np.random.default_rng(6).standard_normal((777, 301))

    def dout_fn(out, dout):
        dout[...] = np.linspace(-1, 1, 3)

    got = []
    for n in (1, 2):
        with head.threads(n):
            got.append(net.input_gradient(x, dout_fn))
    assert_bitwise_equal(got[0][0], got[1][0], "outputs at 1 and 2 threads")
    assert_bitwise_equal(got[0][1], got[1][1], "input gradients at 1 and 2 threads")
    w = [wi.astype(np.float64) for wi in net.weights]
    h1 = np.tanh(x @ w[0] + net.biases[0])
    z2 = h1 @ w[1] + net.biases[1]
    want = (((np.linspace(-1, 1, 3) @ w[2].T) * (z2 > 0)) @ w[1].T * (1 - h1 ** 2)) @ w[0].T
    tol = 1e-3 if dtype == "float32" else 1e-10
    np.testing.assert_allclose(got[0][1], want, rtol=tol, atol=tol)


def test_integrated_gradients_checks_its_arguments(models):
    model, table = models("binary", "auto", "relu", "float64")
    with pytest.raises(ValueError, match="steps must be at least 1, got 0"):
        integrated_gradients(model, _row(model, table, 0), steps=0)
    with pytest.raises(ValueError, match="takes one row, got 2"):
        integrated_gradients(model, model.encode_inputs(table, rows=[0, 1]))
    with pytest.raises(ValueError, match="2 classes, so index lies in 0..1, got 2"):
        integrated_gradients(model, _row(model, table, 0), index=2)


# ------------------------------------------------------------------ the commands

def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    data = d / "d.csv"
    table = _generated(data, "binary", n=200)
    model = _train(table, hidden=[8], epochs=30)
    path = d / "m.ncm"
    model.save(path)
    return path, data, model, table


def test_explain_attributions_shows_each_column_and_the_check(saved):
    path, data, model, table = saved
    r = run("explain", path, "--row", 5, data, "--attributions", "--format", "plain")
    assert r.exit_code == 0, r.stderr
    ig = integrated_gradients(model, _row(model, table, 4))
    out = r.stdout
    assert f"Integrated gradients of {ig.output} for row 5 of" in out
    assert "64 equal steps of the trapezoid rule" in out
    for c in ig.columns:
        assert re.search(rf"^{c.column}\s+\S+\s+{re.escape(f'{c.value:+.4f}')}$", out,
                         re.M), (c, out)
    assert re.search(rf"^error\s+{re.escape(f'{ig.error:+.1e}')}$", out, re.M), out
    assert re.search(rf"^sum of attributions\s+{re.escape(f'{ig.total:+.4f}')}$", out,
                     re.M), out


def test_explain_attributions_json_gives_the_numbers(saved):
    path, data, model, table = saved
    name = model.pre.class_names[0]
    r = run("explain", path, "--row", 8, data, "--attributions", "--class", name,
            "--steps", 10, "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    ig = integrated_gradients(model, _row(model, table, 7), index=0, steps=10)
    assert got["class"] == name and got["output"] == f"P(y = {name})"
    assert got["steps"] == 10 and got["rule"] == "trapezoid" and got["points"] == ig.points
    assert got["f_row"] == ig.f_row and got["f_baseline"] == ig.f_baseline
    assert got["sum"] == ig.total and got["error"] == ig.error
    assert [a["column"] for a in got["attributions"]] == ["signal", "noise", "colour"]
    assert [a["attribution"] for a in got["attributions"]] == [c.value for c in ig.columns]
    assert got["attributions"][2]["value"] == table.column("colour").text(7)


def test_explain_attributions_of_an_input_row(saved):
    path, data, model, table = saved
    r = run("explain", path, "--input", "0.5,0.1,red", "--attributions", "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)
    assert got["row"] is None and abs(got["error"]) < 1e-3


@pytest.mark.parametrize("args,needles,code", [
    (("--row", 500, "{data}", "--attributions"), ("has 200 data rows", "1..200", "500"), 1),
    (("--row", 0, "{data}", "--attributions"), ("--row must lie in 1..200", "got 0"), 1),
    (("--row", 3, "--attributions"), ("--row needs DATA.csv",), 2),
    (("--attributions",), ("give either --row N with DATA.csv",), 2),
    (("--row", 3, "{data}", "--attributions", "--class", "maybe"),
     ("--class 'maybe' is not a class", "no, yes"), 1),
    (("--row", 3, "{data}", "--attributions", "--steps", 0), ("--steps", "at least 1"), 2),
    (("--row", 3, "{data}", "--steps", 8), ("--steps applies to --attributions",), 2),
])
def test_explain_attributions_errors(saved, args, needles, code):
    from test_cli import assert_one_line_error

    path, data, _, _ = saved
    r = run("explain", path, *[str(data) if a == "{data}" else a for a in args])
    assert_one_line_error(r, *needles, code=code)


def test_explain_attributions_of_a_regression_refuses_class(tmp_path):
    from test_cli import assert_one_line_error

    table = _generated(tmp_path / "r.csv", "regression", n=80)
    _train(table, hidden=[4], epochs=3).save(tmp_path / "r.ncm")
    r = run("explain", tmp_path / "r.ncm", "--row", 1, tmp_path / "r.csv", "--attributions",
            "--class", "yes")
    assert_one_line_error(r, "--class applies to a classifier")


def test_eval_importance_in_the_table_and_json(saved):
    path, data, model, table = saved
    r = run("eval", path, data, "--importance", "--repeats", 3, "--seed", 4, "--json")
    assert r.exit_code == 0, r.stderr
    got = json.loads(r.stdout)["importance"]
    want = permutation_importance(model, table, repeats=3, seed=4)
    assert got["metric"] == "accuracy" and got["repeats"] == 3 and got["seed"] == 4
    assert [(c["column"], c["mean"], c["low"], c["high"], tuple(c["drops"]))
            for c in got["columns"]] == [(w.column, w.mean, w.low, w.high, w.drops)
                                         for w in want]
    r = run("eval", path, data, "--importance", "--repeats", 3, "--seed", 4, "--format",
            "plain")
    assert r.exit_code == 0, r.stderr
    assert "drop of the accuracy when a column's values are shuffled (3 shuffles, seed 4)" \
        in " ".join(r.stdout.split())
    lines = [ln.split() for ln in r.stdout.splitlines()]
    rows = [ln for ln in lines if ln and ln[0] in ("signal", "noise", "colour")]
    assert [ln[0] for ln in rows] == [w.column for w in want]
    r = run("eval", path, data, "--format", "plain")
    assert "importance" not in r.stdout.lower()


@pytest.mark.parametrize("args,needles,code", [
    (("--repeats", 3), ("--repeats applies to --importance",), 2),
    (("--seed", 3), ("--seed applies to --importance",), 2),
    (("--importance", "--repeats", 0), ("--repeats", "at least 1"), 2),
])
def test_eval_importance_errors(saved, args, needles, code):
    from test_cli import assert_one_line_error

    path, data, _, _ = saved
    assert_one_line_error(run("eval", path, data, *args), *needles, code=code)
