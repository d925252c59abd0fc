"""explain and explain-neuron: every traced number is the engine's, in every format."""
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

import reference as ref
from neuralcli.cli import cli
from neuralcli.reader import load_builtin, read_table
from neuralcli.losses import evaluate
from neuralcli.model import Settings, TrainedModel
from neuralcli.network import layer_slices
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


def _fit(name, dtype="float64", hidden=(6, 5), settings=None, **kw):
    table = load_builtin(name, **kw)
    model, _ = TrainedModel.fit(table, Settings(hidden=list(hidden), epochs=15, dtype=dtype,
                                                val_split=0.0, batch_size=0,
                                                **(settings or {})))
    return model, table


@pytest.mark.parametrize("name,dtype,settings", [
    ("loan", "float64", {}), ("blobs", "float64", {}), ("regression", "float64", {}),
    ("loan", "float32", {}), ("blobs", "float32", {"activation": "tanh"}),
    ("blobs", "float64", {"loss": "mse"}), ("regression", "float32", {"loss": "mae"})])
def test_traced_numbers_are_the_training_engines(name, dtype, settings):
    """Every output and gradient explain shows is the one the training engine computes
    for the row, bit for bit: its forward pass and its backward pass through the loss."""
    model, table = _fit(name, dtype=dtype, settings=settings, n=120)
    row = table.take([7])
    t = trace(model, row, top=4, lr=0.05)
    net = model.net
    x = dense(model, row)
    out = net.forward(x)
    assert t["forward"][-1]["a"] == out[0].astype(np.float64).tolist()
    assert t["output"]["raw"] == out[0].astype(np.float64).tolist()
    target = model.encode_targets(model.pre.target_of(row))
    if model.spec.loss != "cross_entropy":
        target = np.ascontiguousarray(target, dtype=net.dtype)
    _, engine = net.gradient(x, lambda o, d: evaluate(model.spec.loss, o, target, None, d))
    engine = engine.astype(np.float64)
    slices = layer_slices(net.sizes)
    for b in t["backward"]:
        w, bias = slices[b["layer"] - 1]
        dw = engine[w].reshape(b["dW_shape"])
        assert b["db"] == engine[bias].tolist()
        assert b["dW_norm"] == float(np.linalg.norm(dw))
        for blamed in b["blame"]:
            p = b["prev_names"].index(blamed["from"])
            j = b["names"].index(blamed["to"])
            assert blamed["grad"] == dw[p, j]
    assert t["step"]["changes"]
    for c in t["step"]["changes"]:
        assert c["grad"] == engine[c["index"]]


@pytest.mark.parametrize("name,extra", [("loan", {"n": 120}), ("blobs", {"n": 120}),
                                        ("regression", {"n": 120})])
def test_traced_gradients_equal_engine_and_finite_differences(name, extra):
    model, table = _fit(name, **extra)
    row = table.take([7])
    t = trace(model, row, top=3, lr=0.05)
    grads = []
    for b in sorted(t["backward"], key=lambda b: b["layer"]):
        # rebuild each layer's dW from the traced dZ and the forward inputs
        layer = b["layer"] - 1
        a_prev = np.asarray(t["input"] if layer == 0 else t["forward"][layer - 1]["a"])
        grads.append(np.outer(a_prev, b["dL_dZ"]).ravel())
        grads.append(np.asarray(b["db"]))
    traced = np.concatenate(grads)
    x = dense(model, row)
    target = model.encode_targets(model.pre.target_of(row))
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


def test_sgd_step_is_plain_gradient_descent_and_reports_the_new_loss():
    model, table = _fit("blobs", n=80)
    t = trace(model, table.take([3]), lr=0.2, optimizer="sgd")
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
                        "5. Backward pass", "6. One adam step (learning rate 0.003)"):
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


# ------------------------------------------------------------------ the update step

def run_wide(width, *args):
    """The command off a terminal, with a console `width` columns wide."""
    return CliRunner(env={"COLUMNS": str(width)}).invoke(cli, [str(a) for a in args])


@pytest.fixture(scope="module")
def blobs(tmp_path_factory):
    """Blobs with two small models: Adam with L2 weight decay, and SGD with weight decay
    and a gradient clip small enough to act on one row."""
    d = tmp_path_factory.mktemp("blobs")
    data = d / "blobs.csv"
    assert run("datasets", "blobs", "--rows", "200", "-o", data).exit_code == 0
    models = {}
    for name, extra in (("adam", ["--lr", "0.03", "--weight-decay", "0.001"]),
                        ("sgd", ["--optimizer", "sgd", "--lr", "0.05", "--weight-decay",
                                 "0.002", "--clip-norm", "0.05"])):
        models[name] = d / f"{name}.ncm"
        r = run("train", data, "--hidden", "8,6", "--epochs", "60", "--dtype", "float64",
                *extra, "-o", models[name])
        assert r.exit_code == 0, r.stderr
    return data, models


def numpy_first_step(name, p, g, lr, *, weight_decay=0.0, momentum=0.9, scale=1.0,
                     betas=(0.9, 0.999), eps=1e-8, alpha=0.99):
    """The first step of each optimizer from zeroed state, in float64 numpy, as torch.optim
    defines it: Adam's and RMSprop's averages hold one gradient, SGD's velocity is the
    gradient itself."""
    d = g * scale
    if name == "adamw":
        p = p * (1 - lr * weight_decay)
    elif weight_decay:
        d = d + weight_decay * p
    if name in ("adam", "adamw"):
        m = (1 - betas[0]) * d
        v = (1 - betas[1]) * d * d
        m_hat, v_hat = m / (1 - betas[0]), v / (1 - betas[1])
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)
    if name == "rmsprop":
        v = (1 - alpha) * d * d
        return p - lr * d / (np.sqrt(v) + eps)
    return p - lr * d


def row_gradient(model, table, row):
    """(x, target, gradient) of one table row, from the engine's forward and backward."""
    x = dense(model, table, rows=[row])
    target = model.encode_targets(model.pre.target_of(table, rows=[row]))
    _, grads = model.net.gradient(x, lambda o, d: evaluate(model.spec.loss, o, target,
                                                           None, d))
    return x, target, grads.astype(np.float64)


@pytest.mark.parametrize("which,args,name,lr", [
    ("adam", [], "adam", 0.03),
    ("adam", ["--lr", "0.002"], "adam", 0.002),
    ("adam", ["--optimizer", "adamw"], "adamw", 0.03),
    ("adam", ["--optimizer", "sgd", "--lr", "0.4"], "sgd", 0.4),
    ("adam", ["--optimizer", "rmsprop", "--lr", "0.001"], "rmsprop", 0.001),
    ("sgd", [], "sgd", 0.05),
])
def test_step_is_the_models_optimizer_from_a_fresh_state(blobs, which, args, name, lr):
    data, models = blobs
    r = run("explain", models[which], data, "--row", "6", "--top", "8", "--format",
            "json", *args)
    assert r.exit_code == 0, r.stderr
    st = json.loads(r.stdout)["step"]
    assert (st["optimizer"], st["lr"], st["fresh_state"]) == (name, lr, True)
    assert st["source"] == {"optimizer": "given" if "--optimizer" in args else "model",
                            "lr": "given" if "--lr" in args else "model"}

    model = TrainedModel.load(models[which])
    x, target, g = row_gradient(model, read_table(data), 5)
    scale = 1.0
    if which == "sgd":  # trained with --clip-norm 0.05, which this row's gradient exceeds
        norm = np.sqrt(np.sum(g * g))
        assert norm > 0.05 and st["clipped"]
        scale = 0.05 / norm
    before = model.net.params.astype(np.float64)
    want = numpy_first_step(name, before, g, lr, weight_decay=model.settings.weight_decay,
                            scale=scale)
    assert len(st["changes"]) == 8
    for c in st["changes"]:
        k = c["index"]
        assert c["before"] == before[k] and c["grad"] == g[k]
        assert c["after"] == pytest.approx(want[k], rel=1e-12, abs=1e-15), c["param"]
        assert c["delta"] == pytest.approx(want[k] - before[k], rel=1e-9, abs=1e-15)
    # the shown parameters are those with the largest gradients
    assert min(abs(c["grad"]) for c in st["changes"]) == \
        pytest.approx(np.sort(np.abs(g))[-8], rel=0, abs=0)
    if name == "adam":
        # bias correction makes a first Adam step about lr against each gradient's sign
        for c in st["changes"]:
            assert c["delta"] == pytest.approx(-lr * np.sign(c["grad"]), rel=1e-4)

    after = model.net.copy()
    after.params[...] = want
    loss_after = evaluate(model.spec.loss, after.forward(x), target)
    assert st["loss_after"] == pytest.approx(loss_after, rel=1e-10)
    assert st["loss_before"] == pytest.approx(
        evaluate(model.spec.loss, model.net.forward(x), target), rel=1e-12)


def test_step_says_whose_optimizer_and_learning_rate(blobs):
    data, models = blobs
    r = run("explain", models["adam"], data, "--row", "6", "--format", "plain")
    assert r.exit_code == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "6. One adam step (learning rate 0.03)" in text
    assert ("one adam step at lr 0.03, from a fresh optimizer state (the model's own "
            "settings); weight decay 0.001") in text
    r = run("explain", models["adam"], data, "--row", "6", "--format", "plain",
            "--optimizer", "sgd", "--lr", "0.5")
    text = " ".join(r.stdout.split())
    assert "6. One sgd step (learning rate 0.5)" in text
    assert ("one sgd step at lr 0.5, from a fresh optimizer state (--optimizer and --lr "
            "given; the model trained with adam at lr 0.03)") in text
    r = run("explain", models["sgd"], data, "--row", "6", "--format", "plain")
    text = " ".join(r.stdout.split())
    assert "clipped to 0.05, as in training" in text and "momentum 0.9" in text


def test_explain_offers_the_optimizers_train_offers():
    from neuralcli.cli import explain, train
    from neuralcli.optim import OPTIMIZERS

    def choices(command):
        return sorted(next(p for p in command.params if p.name == "optimizer").type.choices)

    assert choices(explain.command) == choices(train.command) == sorted(OPTIMIZERS)


@pytest.mark.parametrize("lr", ["0", "-1", "nan", "inf"])
def test_bad_learning_rate(blobs, lr):
    data, models = blobs
    r = run("explain", models["adam"], data, "--row", "1", "--lr", lr)
    assert r.exit_code == 2 and "--lr" in r.stderr and "Traceback" not in r.stderr


def test_a_step_too_small_to_move_the_loss_is_no_measurable_change(blobs):
    data, models = blobs
    args = ["explain", models["adam"], data, "--row", "6", "--lr", "1e-30"]
    st = json.loads(run(*args, "--format", "json").stdout)["step"]
    assert st["verdict"] == "no change" and not st["helped"]
    assert abs(st["loss_after"] - st["loss_before"]) <= st["tolerance"]
    r = run(*args, "--format", "plain")
    assert "no measurable change" in r.stdout
    assert "did not help" not in r.stdout and "too large" not in r.stdout


def test_only_a_measurable_rise_did_not_help(tmp_path):
    data = tmp_path / "r.csv"
    assert run("datasets", "regression", "--rows", "120", "-o", data).exit_code == 0
    path = tmp_path / "r.ncm"
    assert run("train", data, "--hidden", "6", "--epochs", "10", "--dtype", "float64",
               "-o", path).exit_code == 0
    args = ["explain", path, data, "--row", "3", "--optimizer", "sgd"]
    # a huge step overshoots the squared error; a fair one lowers it
    for lr, verdict, words in (("50", "rose", "did not help: the loss rose"),
                               ("0.001", "helped", "the update helped")):
        st = json.loads(run(*args, "--lr", lr, "--format", "json").stdout)["step"]
        assert st["verdict"] == verdict, st
        assert st["loss_after"] - st["loss_before"] == pytest.approx(st["change"], abs=0)
        assert words in " ".join(run(*args, "--lr", lr, "--format", "plain").stdout.split())


def test_step_verdicts_by_the_size_of_the_change():
    from neuralcli.cli.explain import _step_verdict

    def said(before, after, tolerance, verdict):
        return _step_verdict({"loss_before": before, "loss_after": after,
                              "change": after - before, "tolerance": tolerance,
                              "verdict": verdict, "hyperparameters": {}})

    assert said(1.0, 1.0, 5e-7, "no change") == "loss 1.000000 -> 1.000000: no measurable " \
                                                 "change."
    assert said(1.0, 1.0 + 2e-16, 5e-7, "no change").endswith(
        "(change +2.2e-16): no measurable change, within rounding.")
    assert "helped" in said(1.0, 0.5, 5e-7, "helped")
    assert "did not help: the loss rose" in said(1.0, 1.5, 5e-7, "rose")


def test_tolerance_is_rounding_of_the_loss():
    model, table = _fit("blobs", n=80)
    st = trace(model, table.take([3]), lr=1e-30)["step"]
    assert st["loss_after"] == st["loss_before"] and st["verdict"] == "no change"
    assert st["tolerance"] == 5e-7  # the loss is shown to six decimals
    st = trace(model, table.take([3]), lr=0.05, optimizer="sgd")["step"]
    assert st["verdict"] == ("helped" if st["change"] < -5e-7 else "rose")


def test_tiny_gradients_are_shown_in_scientific_notation(blobs):
    data, models = blobs
    model = TrainedModel.load(models["adam"])
    table = read_table(data)
    _, _, proba, _ = model.predict_table(table)
    truth = model.pre.target_of(table)
    row = int(np.argmax(proba[np.arange(len(truth)), truth]))  # the surest right answer
    t = json.loads(run("explain", models["adam"], data, "--row", row + 1, "--format",
                       "json").stdout)
    out = next(b for b in t["backward"] if b["layer"] == 3)
    # the model is sure enough that every output's error would read +0.0000 or -0.0000
    assert all(0 < abs(v) < 5e-5 for v in out["dL_dA"]), out["dL_dA"]
    r = run_wide(200, "explain", models["adam"], data, "--row", row + 1, "--format",
                 "plain", "--top", "4")
    line = next(ln for ln in r.stdout.splitlines() if ln.strip().startswith("dL/dA")
                and "out:" in ln)
    for name, v in zip(out["names"], out["dL_dA"]):
        assert f"{name} {v:+.1e}" in line, (name, v, line)
    assert "0.0000" not in line
    blame = next(ln for ln in r.stdout.splitlines() if "-> out:" in ln and "blame" in ln)
    for b in out["blame"]:
        assert f"dL/dw {b['grad']:+.1e}" in blame
    assert "+0.0000" not in blame and "-0.0000" not in blame


def test_numbers_round_to_four_decimals_unless_they_would_read_zero():
    from neuralcli.cli.explain import _n, _size

    assert _n(3.2e-7) == "+3.2e-07" and _n(-4.04e-5) == "-4.0e-05"
    assert _n(0.0) == "+0.0000" and _n(0.25) == "+0.2500" and _n(-1.5) == "-1.5000"
    assert _n(12345.0) == "+1.234e+04" and _size(2.2e-5) == "2.2e-05"


def test_numbers_that_would_read_zero_are_written_in_scientific_notation():
    from neuralcli.trace import fixed, loss_format, probability

    assert fixed(4e-7) == "4.0e-07" and fixed(-4e-7, sign=True) == "-4.0e-07"
    assert fixed(0.0) == "0.0000" and fixed(0.00005) == "0.0001" and fixed(1.5) == "1.5000"
    assert fixed(3e-9, places=6) == "3.0e-09" and fixed(3e-6, places=6) == "0.000003"
    assert probability(1 - 1e-9, 1e-9) == "1 - 1.0e-09"
    assert probability(1 - 1e-9, 1e-9, paren=True) == "(1 - 1.0e-09)"
    assert probability(1e-9, 1 - 1e-9) == "1.0e-09" and probability(0.3, 0.7) == "0.3000"
    assert probability(1.0, 0.0) == "1.0000"
    # the step's two losses share one format, and a change below its last digit is none
    assert loss_format(0.4, 0.3) == (".6f", 5e-7)
    assert loss_format(2e-6, 1e-9) == (".1e", pytest.approx(5e-8))
    assert loss_format(0.5, 3e-6) == (".1e", pytest.approx(5e-3))
    assert loss_format(0.0, 0.0) == (".6f", 5e-7)


@pytest.fixture(scope="module")
def sure(tmp_path_factory):
    """Loan models made sure of one row by moving their output bias: {(dtype, logit):
    model}, the data, and the row (1-based) of each truth."""
    d = tmp_path_factory.mktemp("sure")
    data = d / "loan.csv"
    assert run("datasets", "loan", "--rows", "200", "-o", data).exit_code == 0
    table = read_table(data)
    made = {}
    for dtype in ("float32", "float64"):
        base = d / f"{dtype}.ncm"
        r = run("train", data, "--hidden", "6,5", "--epochs", "10", "--dtype", dtype,
                "-o", base)
        assert r.exit_code == 0, r.stderr
        model = TrainedModel.load(base)
        truth = model.pre.target_of(table)
        rows = {label: int(np.argmax(truth == label)) for label in (0, 1)}
        for label, logit in ((1, 14.0), (0, -14.0), (1, 25.0), (1, 40.0)):
            model = TrainedModel.load(base)
            x = dense(model, table, rows=[rows[label]])
            model.net.biases[-1][0] += logit - model.net.forward(x)[0, 0]
            made[dtype, logit] = d / f"{dtype}_{logit:+g}.ncm"
            model.save(made[dtype, logit])
    return made, data, {label: row + 1 for label, row in rows.items()}


def _zeros(text):
    """The numbers in text that read as zero: 0.0000, +0.000000, ..."""
    return re.findall(r"(?<![\w.])[+-]?0\.0+(?![\d.e])", text)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("label,logit", [(1, 14.0), (0, -14.0)])
def test_tiny_losses_and_probabilities_are_not_shown_as_zero(sure, dtype, label, logit):
    made, data, rows = sure
    args = ["explain", made[dtype, logit], data, "--row", rows[label], "--lr", "0.1"]
    t = json.loads(run(*args, "--format", "json").stdout)
    z = t["output"]["raw"][0]
    assert abs(z - logit) < 1e-3
    q = 1 / (1 + np.exp(abs(z)))  # the probability of the wrong class, about 8e-7
    loss, st = t["loss"]["value"], t["step"]
    assert loss == pytest.approx(q, rel=1e-5)
    r = run_wide(200, *args, "--format", "plain")
    assert r.exit_code == 0, r.stderr
    section = _between(r.stdout, "4. Loss", "5. Backward")
    assert f"= {loss:.1e}\n" in section
    sure_, wrong = f"1 - {q:.1e}", f"{q:.1e}"
    if label == 1:
        assert f"= ({sure_}): -[1*log({sure_}) + 0*log({wrong})] = {loss:.1e}" in section
    else:
        assert f"= {wrong}: -[0*log({wrong}) + 1*log({sure_})] = {loss:.1e}" in section
    assert not _zeros(section), section
    probs = next(ln for ln in r.stdout.splitlines() if "probabilities:" in ln)
    assert f"{q:.1e}" in probs and not _zeros(probs)
    # the update step's losses, both in scientific notation
    verdict = next(ln for ln in r.stdout.splitlines() if ln.startswith("  loss "))
    assert verdict.startswith(f"  loss {st['loss_before']:.1e} -> {st['loss_after']:.1e}")
    assert not _zeros(verdict), verdict
    assert st["verdict"] == "helped" and "the update helped" in verdict


@pytest.mark.parametrize("dtype,logit", [("float32", 25.0), ("float64", 40.0)])
def test_a_saturated_output_has_no_blame_to_assign(sure, dtype, logit):
    made, data, rows = sure
    args = ["explain", made[dtype, logit], data, "--row", rows[1]]
    t = json.loads(run(*args, "--format", "json").stdout)
    # p rounds to exactly 1 in the network's dtype: every gradient is zero
    assert all(v == 0 for b in t["backward"] for v in b["dL_dA"] + b["dL_dZ"] + b["db"])
    assert all(b["blame"] == [] and b["dW_norm"] == 0 for b in t["backward"])
    assert 0 < t["loss"]["value"] < 1e-10
    r = run_wide(200, *args, "--format", "plain")
    assert r.exit_code == 0, r.stderr
    text = _between(r.stdout, "5. Backward", "6. One")
    assert "most blame" not in text and "dL/dw" not in text
    said = [ln.strip() for ln in text.splitlines() if "no blame" in ln]
    assert said == [f"no blame to assign: all gradients are zero (the output is saturated: "
                    f"its probability of the truth is exactly 1 in {dtype})"] + \
        ["no blame to assign: all gradients are zero"] * 2, said  # layers 3, 2 and 1
    # the loss is tiny but not zero
    assert f"= {t['loss']['value']:.1e}\n" in _between(r.stdout, "4. Loss", "5. Backward")


def test_a_weight_without_gradient_takes_no_blame(sure):
    made, data, rows = sure
    t = json.loads(run("explain", made["float32", 14.0], data, "--row", rows[1], "--top",
                       "40", "--format", "json").stdout)
    first = next(b for b in t["backward"] if b["layer"] == 1)
    # the inactive ReLUs pass no error back, so most first-layer weights have none
    nonzero = sum(1 for v in first["dL_dZ"] if v != 0) * len(first["prev_names"])
    assert 0 < len(first["blame"]) == min(40, nonzero)
    assert all(x["grad"] != 0 for b in t["backward"] for x in b["blame"])


# ------------------------------------------------------------------ line widths

def _dated(tmp_path):
    """A CSV with a date column and long category names, and a model of it."""
    rng = np.random.default_rng(3)
    cities = ["Llanfairpwllgwyngyll upon the Menai Strait", "Rome", "Oslo"]
    lines = ["signup_date,city,income,approved"]
    for i in range(90):
        lines.append(f"2024-{1 + i % 12:02d}-{1 + i % 28:02d},{cities[i % 3]},"
                     f"{rng.normal(50, 10):.1f},{'yes' if rng.random() < 0.5 else 'no'}")
    data = tmp_path / "dated.csv"
    data.write_text("\n".join(lines) + "\n")
    path = tmp_path / "dated.ncm"
    r = run("train", data, "--hidden", "5", "--epochs", "5", "-o", path)
    assert r.exit_code == 0, r.stderr
    return path, data


@pytest.fixture(scope="module")
def width_cases(loan, blobs, tmp_path_factory):
    d = tmp_path_factory.mktemp("widths")
    _, models = blobs
    blobs_mse = d / "blobs_mse.ncm"
    r = run("train", blobs[0], "--hidden", "7", "--epochs", "5", "--loss", "mse", "-o",
            blobs_mse)
    assert r.exit_code == 0, r.stderr
    reg = d / "reg.csv"
    assert run("datasets", "regression", "--rows", "80", "-o", reg).exit_code == 0
    reg_model = d / "reg.ncm"
    assert run("train", reg, "--hidden", "9", "--epochs", "5", "-o",
               reg_model).exit_code == 0
    return {"loan": loan, "blobs-mse": (blobs_mse, blobs[0]), "regression": (reg_model, reg),
            "dated": _dated(d)}


def _between(text, start, end):
    return text[text.index(start):text.index(end)]


@pytest.mark.parametrize("case", ["loan", "blobs-mse", "regression", "dated"])
@pytest.mark.parametrize("width", [60, 80, 100])
def test_every_line_fits_and_no_term_is_split(width_cases, case, width):
    path, data = width_cases[case]
    args = ["explain", path, data, "--row", "4", "--format", "plain", "--lr", "1e-30"]
    r = run_wide(width, *args)
    assert r.exit_code == 0, r.stderr
    long = [ln for ln in r.stdout.splitlines() if len(ln) > width]
    assert not long, long
    # lines break only between words: the forward, loss and backward sections hold the
    # words of the unwrapped text, in order
    flat = run_wide(10000, *args).stdout
    assert max(len(ln) for ln in flat.splitlines()) > width  # so there was wrapping to do
    for start, end in (("3. Forward pass", "4. Loss"), ("4. Loss", "6. One")):
        assert _between(r.stdout, start, end).split() == _between(flat, start, end).split()


@pytest.mark.parametrize("width", [60, 80])
def test_long_formulas_break_between_terms(width_cases, width):
    path, data = width_cases["blobs-mse"]
    r = run_wide(width, "explain", path, data, "--row", "4", "--format", "plain")
    lines = r.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("  mse = "))
    formula = [lines[at]]
    while lines[at + len(formula)].startswith("      "):
        formula.append(lines[at + len(formula)])
    assert len(formula) > 1, formula
    term = re.compile(r"\(-?\d+\.\d{4} - \(?-?\d+\.\d{4}\)?\)\^2")
    # four squared errors, each whole on one line; each continuation opens a term, their
    # sum or its result
    assert sum(len(term.findall(ln)) for ln in formula) == 4, formula
    for ln in formula[1:]:
        assert re.match(r" {6}(\+ \(|= |\(\()", ln), (ln, formula)
