"""explain and explain-neuron: every traced number is the engine's, in every format."""
import json

import numpy as np
import pytest
from click.testing import CliRunner

import reference as ref
from neuralcli.cli import cli
from neuralcli.reader import load_builtin, read_table
from neuralcli.losses import evaluate
from neuralcli.model import Settings, TrainedModel, _encode
from neuralcli.trace import neuron, row_table, trace


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def loan(tmp_path_factory):
    d = tmp_path_factory.mktemp("loan")
    data = d / "loan.csv"
    assert run("datasets", "loan", "--rows", "300", "-o", data).exit_code == 0
    path = d / "loan.ncm"
    r = run("train", data, "--epochs", "20", "--hidden", "64,64", "--dtype", "float64",
            "-o", path)
    assert r.exit_code == 0, r.stderr
    return path, data


def dense(model, table, rows=None):
    """The model's inputs for a table's rows, one-hot expanded as the network takes them."""
    enc = model.pre.transform(table, rows=rows, dtype=model.net.dtype)
    return enc.to_dense(model.pre.n_features)


def _fit(name, dtype="float64", hidden=(6, 5), **kw):
    table = load_builtin(name, **kw)
    model, _ = TrainedModel.fit(table, Settings(hidden=list(hidden), epochs=15, dtype=dtype,
                                                val_split=0.0, batch_size=0))
    return model, table


@pytest.mark.parametrize("name,extra", [("loan", {"n": 120}), ("blobs", {"n": 120}),
                                        ("regression", {"n": 120})])
def test_traced_gradients_equal_engine_and_finite_differences(name, extra):
    model, table = _fit(name, **extra)
    row = table.take([7])
    t = trace(model, row, top=3, lr=0.05)
    assert t["engine_output_check"] == 0.0
    assert t["engine_gradient_check"] == 0.0  # the same kernels, bit for bit
    grads = []
    for b in sorted(t["backward"], key=lambda b: b["layer"]):
        # rebuild each layer's dW from the traced dZ and the forward inputs
        layer = b["layer"] - 1
        a_prev = np.asarray(t["input"] if layer == 0 else t["forward"][layer - 1]["a"])
        grads.append(np.outer(a_prev, b["dL_dZ"]).ravel())
        grads.append(np.asarray(b["db"]))
    traced = np.concatenate(grads)
    x = dense(model, row)
    target = _encode(model.pre.target_of(row), model.spec, model.pre)
    net = model.net

    def loss_at(p):
        keep = net.params.copy()
        net.params[...] = p
        value = evaluate(model.spec.loss, net.forward(x), target)
        net.params[...] = keep
        return value

    numeric = ref.numeric_grad(loss_at, net.params.copy())
    np.testing.assert_allclose(traced, numeric, rtol=1e-5, atol=1e-7)
    assert abs(t["loss"]["value"] - loss_at(net.params.copy())) < 1e-12


def test_step_is_the_sgd_kernel_and_reports_the_new_loss():
    model, table = _fit("blobs", n=80)
    t = trace(model, table.take([3]), lr=0.2)
    st = t["step"]
    for c in st["changes"]:
        assert c["after"] == pytest.approx(c["before"] - 0.2 * c["grad"], rel=0, abs=1e-15)
    after = model.net.copy()
    x = dense(model, table.take([3]))
    grads = model.net.gradient(x, lambda o, d: evaluate(
        "cross_entropy", o, model.pre.target_of(table.take([3])).astype(np.int32), None,
        d))[1]
    after.params -= 0.2 * grads
    value = evaluate("cross_entropy", after.forward(x),
                     model.pre.target_of(table.take([3])).astype(np.int32))
    assert st["loss_after"] == pytest.approx(value, rel=1e-12)


def test_json_matches_the_engine(loan):
    path, data = loan
    r = run("explain", path, data, "--row", "5", "--format", "json")
    assert r.exit_code == 0, r.stderr
    t = json.loads(r.stdout)
    model = TrainedModel.load(path)
    x = dense(model, read_table(data), rows=[4])
    out = model.net.forward(x)
    assert t["forward"][-1]["z"] == pytest.approx(out[0].tolist(), rel=0, abs=0)
    assert t["output"]["probabilities"][t["output"]["class"]] == pytest.approx(
        model.probabilities(out.astype(np.float64))[0].max(), rel=1e-15)
    assert t["input"] == pytest.approx(x[0].tolist(), abs=0)
    assert [p["column"] for p in t["preprocessing"]] == model.pre.input_columns


@pytest.mark.parametrize("fmt", ["rich", "plain", "json"])
def test_every_format_runs(loan, fmt):
    path, data = loan
    r = run("explain", path, data, "--row", "2", "--format", fmt)
    assert r.exit_code == 0, r.stderr
    if fmt == "json":
        json.loads(r.stdout)
    else:
        for heading in ("1. Network", "2. Preprocessing", "3. Forward pass", "4. Loss",
                        "5. Backward pass", "6. One gradient-descent step"):
            assert heading in r.stdout
        assert "\x1b" not in r.stdout


def test_input_and_target_options(loan):
    path, _ = loan
    r = run("explain", path, "--input", "52000,700,4,9000", "--target", "1", "--format",
            "plain")
    assert r.exit_code == 0, r.stderr
    assert "truth: approved = 1" in r.stdout
    r = run("explain", path, "--input", "52000,700,4,9000", "--format", "plain")
    assert r.exit_code == 0 and "4. Loss" not in r.stdout
    assert "no target given" in r.stderr


def test_wide_network_stays_within_a_line_budget(loan):
    path, data = loan
    r = run("explain", path, data, "--row", "1", "--format", "plain")
    lines = r.stdout.splitlines()
    assert len(lines) < 130, len(lines)
    assert "+61 more neurons" in r.stdout  # 64 wide, the 3 largest shown
    r = run("explain", path, data, "--row", "1", "--format", "plain", "--top", "2")
    assert len(r.stdout.splitlines()) < len(lines)


@pytest.mark.parametrize("args,needle,code", [
    (["--row", "0"], "--row must lie in 1..", 1),
    (["--row", "9999"], "--row must lie in 1..", 1),
    (["--input", "1,2"], "the model takes 4", 1),
    (["--row", "1", "--input", "1,2,3,4"], "either --row", 2),
    (["--top", "0", "--row", "1"], "--top", 2),
])
def test_bad_explain_input(loan, args, needle, code):
    path, data = loan
    extra = [data] if "--row" in args and "--input" not in args else []
    r = run("explain", path, *extra, *args)
    assert r.exit_code == code, (r.stdout, r.stderr)
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and needle in errors[0], r.stderr
    assert "Traceback" not in r.stderr


def test_unknown_target_label_is_an_error(loan):
    path, _ = loan
    r = run("explain", path, "--input", "52000,700,4,9000", "--target", "maybe")
    assert r.exit_code == 1 and '"maybe" is not a number' in r.stderr
    r = run("explain", path, "--input", "52000,700,4,9000", "--target", "7")
    assert r.exit_code == 1 and "not seen in training" in r.stderr


def test_neuron_loan_officer():
    n = neuron([45000, 680, 3, 12000], [0.00001, 0.01, 0.1, -0.00005], -3, "step")
    assert [round(i["product"], 10) for i in n["inputs"]] == [0.45, 6.8, 0.3, -0.6]
    assert n["weighted_sum"] == pytest.approx(6.95)
    assert n["z"] == pytest.approx(3.95) and n["output"] == 1 and n["decision"] == "yes"
    assert [i["direction"] for i in n["inputs"]] == ["yes", "yes", "yes", "no"]
    assert neuron([1, 1], [1, 1], -5, "sigmoid")["decision"] == "no"


@pytest.mark.parametrize("fmt", ["rich", "plain", "json"])
def test_neuron_command_formats(fmt):
    r = run("explain-neuron", "--inputs", "45000,680,3,12000", "--weights",
            "0.00001,0.01,0.1,-0.00005", "--bias", "-3", "--format", fmt)
    assert r.exit_code == 0, r.stderr
    if fmt == "json":
        data = json.loads(r.stdout)
        assert data["z"] == pytest.approx(3.95) and data["decision"] == "yes"
    else:
        assert "pre-activation z +3.95" in r.stdout and "decision: yes" in r.stdout


def test_neuron_command_bad_input():
    r = run("explain-neuron", "--inputs", "1,2", "--weights", "1", "--bias", "0")
    assert r.exit_code == 2 and "one weight per input" in r.stderr
    r = run("explain-neuron", "--inputs", "1,a", "--weights", "1,2", "--bias", "0")
    assert r.exit_code == 2 and "comma-separated numbers" in r.stderr


def test_row_table_checks_the_count():
    model, _ = _fit("xor", n=40)
    from neuralcli.data import DataError
    with pytest.raises(DataError, match="takes 2"):
        row_table(model.pre, ["1"])


def test_small_layers_are_shown_whole():
    model, table = _fit("blobs", hidden=(6, 5), n=80)
    t = trace(model, table.take([0]), top=2)
    widths = [6, 5, 4]
    for layer, width, fan_in in zip(t["forward"], widths, [2, 6, 5]):
        assert len(layer["neurons"]) == width and layer["more_neurons"] == 0
        assert all(len(n["contributions"]) == fan_in for n in layer["neurons"])
