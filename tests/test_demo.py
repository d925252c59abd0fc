"""neuralcli demo through click's CliRunner: every lesson in every format, its numbers
checked against the engine and the published values, its length, and its bad options."""
import io
import json
import re

import pytest
from click.testing import CliRunner

from neuralcli.cli import cli
from neuralcli.cli.console import Console
from neuralcli.demos import LESSONS

NAMES = list(LESSONS)
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def run(*args, env=None):
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def ok(result):
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def js():
    """Each lesson's JSON at its defaults, run once for the module."""
    out = {}
    for name in NAMES:
        result = ok(run("demo", name, "--format", "json"))
        out[name] = json.loads(result.stdout)
    return out


# ------------------------------------------------------------------ every lesson, every format

@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("args", [["--format", "plain"], ["--format", "rich"], []],
                         ids=["plain", "rich", "default"])
def test_lesson_runs_as_text(name, args):
    # CliRunner is not a terminal, so rich output degrades to plain text here too
    result = ok(run("demo", name, *args))
    out = result.stdout
    assert not CONTROL.search(out), "control characters in plain output"
    lines = out.splitlines()
    assert lines[0].startswith(f"{name}: ")
    assert "1. " in out and "Takeaway:" in out
    # prose wrapped to 80 columns: the longest lesson, backprop, is about 90 lines
    assert len(lines) < 100, f"{name}: {len(lines)} lines"


@pytest.mark.parametrize("name", NAMES)
def test_lesson_runs_without_color(name):
    result = ok(run("--no-color", "demo", name, "--format", "rich"))
    assert not CONTROL.search(result.stdout)
    assert "Takeaway:" in result.stdout


def test_json_is_one_object_with_steps(js):
    for name, data in js.items():
        assert data["lesson"] == name
        assert data["description"] == LESSONS[name]
        assert data["steps"] and all(s["title"] and s["why"] for s in data["steps"])
        assert data["takeaway"]
        assert isinstance(data["result"], dict)


def test_json_on_the_group_and_lesson_agree():
    a = json.loads(ok(run("demo", "xor", "--format", "json")).stdout)
    b = json.loads(ok(run("demo", "--format", "json", "xor")).stdout)
    assert a == b


def test_listing():
    result = ok(run("demo"))
    for name in NAMES:
        assert name in result.stdout
    listed = json.loads(ok(run("demo", "--format", "json")).stdout)
    assert [x["name"] for x in listed] == NAMES


# ------------------------------------------------------------------ numbers against the engine

def test_backprop_reproduces_the_published_numbers(js):
    v = js["backprop"]["result"]["values"]
    assert round(v["net_h1"], 4) == 0.3775
    assert round(v["out_h1"], 9) == 0.593269992
    assert round(v["E_total"], 9) == 0.298371109
    assert round(v["w5"], 8) == 0.35891648
    assert round(v["w1"], 9) == 0.149780716
    r = js["backprop"]["result"]
    assert r["all_agree"] is True
    assert r["error"]["mse_equals_half_sum"] and r["error"]["gradient_equals_o_minus_t"]
    assert r["backward"]["network_agrees"] < 1e-15
    # the engine also updates the biases; the example holds them
    assert r["update"]["biases_after"] != [0.35, 0.35, 0.6, 0.6]
    assert r["update"]["error_after_engine"] < r["update"]["error_after_biases_held"]


def test_backprop_prints_engine_and_published_side_by_side():
    out = ok(run("demo", "backprop", "--format", "plain")).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("w5 "))
    assert "0.358916480" in line and "0.35891648" in line.split("0.358916480")[1]


def test_backprop_with_other_numbers_has_no_published_column():
    result = ok(run("demo", "backprop", "--inputs", "1,0", "--lr", "0.1", "--format", "json"))
    r = json.loads(result.stdout)["result"]
    assert r["published"] == [] and r["all_agree"] is None
    assert r["setup"]["inputs"] == [1.0, 0.0]
    text = ok(run("demo", "backprop", "--inputs", "1,0", "--format", "plain")).stdout
    assert "published" not in text.split("Takeaway")[0].split("2. Forward")[1].splitlines()[2]


def test_learning_rate_verdicts(js):
    r = js["learning-rate"]["result"]
    verdicts = {run_["lr"]: (run_["verdict"], run_["sign_flips"]) for run_ in r["runs"]}
    assert verdicts[0.01] == ("not yet converged", False)
    assert verdicts[0.1] == ("converged", False)
    assert verdicts[0.5] == ("converged", False)
    # |x| = 1.4e-4 at the end is within the tolerance, whatever its sign did on the way
    assert verdicts[0.9] == ("converged", True)
    assert verdicts[5.0] == ("diverged", True)
    by_lr = {run_["lr"]: run_ for run_ in r["runs"]}
    assert by_lr[0.5]["steps_to_tolerance"] == 1 and by_lr[0.5]["trajectory"][1] == 0
    assert r["gradient_check"]["exact"] and r["gradient_check"]["gradient"] == 20.0
    for run_ in r["runs"]:  # the sgd kernel's steps are (1 - 2 lr)^k x0
        assert run_["closed_form_deviation"] < 1e-12


def test_learning_rate_verdicts_follow_steps():
    r = json.loads(ok(run("demo", "learning-rate", "--lrs", "0.01", "--steps", "1000",
                          "--format", "json")).stdout)["result"]
    assert r["runs"][0]["verdict"] == "converged"
    r = json.loads(ok(run("demo", "learning-rate", "--lrs", "1.0", "--steps", "5",
                          "--format", "json")).stdout)["result"]
    assert r["runs"][0]["verdict"] == "not converging" and r["runs"][0]["sign_flips"]


VERDICT_LINE = re.compile(r"^lr (\S+)\s+(converged|not yet converged|not converging|"
                          r"diverged)(, oscillating in sign)?[ :(]")


@pytest.mark.parametrize("args", [
    [],
    ["--lrs", "0.01,0.45,0.5,0.55,0.999,1,1.001,3", "--steps", "20", "--start", "-3"],
    ["--lrs", "0.9", "--steps", "10"],      # -0.8^10 * 10 = 1.07: not there yet
    ["--lrs", "0.9", "--steps", "31"],      # 0.0099: converged, from step 31
])
def test_learning_rate_verdicts_follow_the_printed_definition(args):
    """Each printed verdict against the printed tolerance and x_t recomputed here with
    x <- x - lr * f'(x), f(x) = x^2."""
    out = ok(run("demo", "learning-rate", *args, "--format", "plain")).stdout
    tol = float(re.search(r"Converged means \|x\| <= (\S+) ", out).group(1))
    steps = int(args[args.index("--steps") + 1]) if "--steps" in args else 50
    start = float(args[args.index("--start") + 1]) if "--start" in args else 10.0
    printed = {}
    for line in out.split("3. Verdicts")[1].splitlines():
        m = VERDICT_LINE.match(line)
        if m:
            printed[float(m.group(1))] = (m.group(2), bool(m.group(3)))
    lrs = ([float(v) for v in args[args.index("--lrs") + 1].split(",")]
           if "--lrs" in args else [0.01, 0.1, 0.5, 0.9, 5.0])
    assert sorted(printed) == sorted(lrs), out
    for lr in lrs:
        xs = [start]
        for _ in range(steps):
            xs.append(xs[-1] - lr * 2 * xs[-1])
        end = abs(xs[-1])
        expected = ("converged" if end <= tol else "diverged" if end > abs(start)
                    else "not converging" if end == abs(start) else "not yet converged")
        flips = any(a * b < 0 for a, b in zip(xs, xs[1:]))
        assert printed[lr] == (expected, flips), (lr, xs[-1], printed[lr])


def _xor_rows(out):
    """The first table of the xor lesson: (p text, pred) of the neuron and the network."""
    rows = []
    for line in out.split("1. Train both")[1].split("2. A single")[0].splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 7 and cells[0] in "01":
            rows.append(((cells[3], int(cells[4])), (cells[5], int(cells[6]))))
    assert len(rows) == 4, out
    return rows


def _printed_p(text):
    """A printed probability as a number: '0.5 + 3.6e-13' is 0.5 plus that."""
    m = re.fullmatch(r"(\S+) ([+-]) (\S+)", text)
    if m:
        d = float(m.group(3))
        return float(m.group(1)) + (d if m.group(2) == "+" else -d)
    return float(text)


@pytest.mark.parametrize("args", [[], ["--epochs", "5"], ["--seed", "3", "--hidden", "2"]])
def test_xor_printed_p_and_pred_never_contradict(args):
    """The rule is printed; every printed p, read as a number, gives the printed pred
    under it, and sits on the same side of 0.5 as the model's own probability."""
    out = ok(run("demo", "xor", *args, "--format", "plain")).stdout
    assert "1 when p > 0.5, else 0" in " ".join(out.split())
    r = json.loads(ok(run("demo", "xor", *args, "--format", "json")).stdout)["result"]
    models = [r["models"]["single neuron"], r["models"]["hidden layer"]]
    for i, printed in enumerate(_xor_rows(out)):
        for (text, pred), model in zip(printed, models):
            p = model["probabilities"][i]
            assert pred == model["predictions"][i] == int(p > 0.5)
            assert int(_printed_p(text) > 0.5) == pred, (text, pred)
            assert (_printed_p(text) == 0.5) == (p == 0.5), (text, p)


def test_xor_single_neuron_explains_its_flat_line():
    out = " ".join(ok(run("demo", "xor", "--format", "plain")).stdout.split())
    # Adam drives the neuron to w = 0, b = 0: all four p are 0.5 to 12 digits
    neuron = [_printed_p(p) for (p, _), _ in _xor_rows(
        ok(run("demo", "xor", "--format", "plain")).stdout)]
    assert all(abs(p - 0.5) < 1e-9 for p in neuron) and len(set(neuron)) == 4
    assert "ln 2 = 0.6931" in out and "rounding noise" in out


def test_xor_accuracies(js):
    m = js["xor"]["result"]["models"]
    assert m["single neuron"]["accuracy"] <= 0.75
    assert m["hidden layer"]["accuracy"] == 1.0
    assert len(m["hidden layer"]["hidden_values"]) == 4


def test_linear_collapse_differences(js):
    r = js["linear-collapse"]["result"]
    assert r["max_difference_linear"] < 1e-5
    assert r["max_difference_relu"] > 0.1
    assert r["collapses"] is True


def test_vanishing_gradients_ratios(js):
    r = js["vanishing-gradients"]["result"]
    assert r["sigmoid"]["ratio"] < 1e-3
    assert 1e-2 < r["relu"]["ratio"] < 1e2
    assert len(r["layers"]) == 10


def test_dropout_mask_and_scaling(js):
    r = js["dropout"]["result"]
    assert abs(r["many"]["dropped_fraction"] - 0.5) < 0.02
    assert r["scaled_exact"] and r["dropped_zero"]
    for row_h, row_m, row_y in zip(r["activations"], r["mask"], r["output"]):
        for h, m, y in zip(row_h, row_m, row_y):
            assert y == (h / (1 - 0.5) if m else 0.0)
    many = r["many"]
    assert abs(many["mean_after_scaled"] - many["mean_before"]) < 0.05 * many["mean_before"]
    n = r["network"]
    assert n["eval_repeatable"] and n["train"][0] != n["train"][2]


def test_dropout_other_rate():
    r = json.loads(ok(run("demo", "dropout", "--p", "0.2", "--seed", "3",
                          "--format", "json")).stdout)["result"]
    assert abs(r["many"]["dropped_fraction"] - 0.2) < 0.02
    assert r["scaled_exact"] and r["scale"] == 1 / 0.8


def test_optimizers(js):
    r = js["optimizers"]["result"]
    valley = r["valley"]["runs"]
    assert valley["momentum"]["final_loss"] < valley["sgd"]["final_loss"]
    assert valley["adam"]["final_loss"] < valley["sgd"]["final_loss"]
    spirals = r["spirals"]["runs"]
    assert len(spirals["adam"]["losses"]) == 200
    assert spirals["adam"]["final_loss"] < spirals["sgd"]["final_loss"]


def test_spirals_map(js):
    r = js["spirals"]["result"]
    f = r["final"]
    assert len(f["probs"]) == r["grid"]["rows"] and len(f["probs"][0]) == r["grid"]["cols"]
    assert all(0 <= p <= 1 for row in f["probs"] for p in row)
    assert f["accuracy"] > 0.9 and r["history"][-1]["epoch"] == 200


def _map_capitals(out):
    """{(row, col): letter} of the capitals on the printed map."""
    lines = out.splitlines()
    top = next(i for i, ln in enumerate(lines) if ln.startswith("+-"))
    bottom = next(i for i in range(top + 1, len(lines)) if lines[i].startswith("+-"))
    return {(r, c): ch for r, ln in enumerate(lines[top + 1:bottom])
            for c, ch in enumerate(ln[1:-1]) if ch in "OX"}


@pytest.mark.parametrize("epochs", [200, 30])
def test_spirals_capitals_are_the_misclassified_points(monkeypatch, epochs):
    """The network the lesson trained, kept here, classifies the training points again
    (its logits through 1/(1+e^-z) by numpy); the printed count matches, and the
    capitals sit exactly in the cells holding a misclassified point, with its class."""
    import numpy as np

    from neuralcli import demos
    from neuralcli.datasets import spirals

    nets = []

    class Kept(demos.MLP):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            nets.append(self)

    monkeypatch.setattr(demos, "MLP", Kept)
    out = ok(run("demo", "spirals", "--epochs", epochs, "--format", "plain")).stdout
    X, y, _, _ = spirals(n=300, seed=0)
    z = np.asarray(nets[0].forward(X), dtype=np.float64).ravel()
    wrong = (1 / (1 + np.exp(-z)) > 0.5) != (y == 1)
    # the map's cells (48 x 24 at the defaults) over the data's box, 0.1 beyond it
    lo, hi = X.min(axis=0) - 0.1, X.max(axis=0) + 0.1
    col = np.clip(((X[:, 0] - lo[0]) / (hi[0] - lo[0]) * 48).astype(int), 0, 47)
    row = np.clip(((hi[1] - X[:, 1]) / (hi[1] - lo[1]) * 24).astype(int), 0, 23)
    expected = {}
    for r, c, label in zip(row[wrong], col[wrong], y[wrong]):
        expected.setdefault((int(r), int(c)), set()).add("X" if label else "O")
    capitals = _map_capitals(out)
    assert wrong.sum() > 0
    assert set(capitals) == set(expected)
    assert all(capitals[k] in expected[k] for k in capitals)
    text = " ".join(out.split())
    assert f"{wrong.sum()} of 300 misclassified, shown as capitals in {len(expected)} " \
           f"cell" in text
    assert "a cell is a capital if any point in it is misclassified" in text


def test_map_cells_marks_a_cell_by_any_misclassified_point():
    from neuralcli.demos import map_cells

    points = [[0, 0, 0, True], [0, 0, 1, False], [0, 0, 0, True],   # one wrong of three
              [0, 1, 1, True], [0, 1, 0, True], [0, 1, 0, True],    # all right, mostly 0
              [1, 1, 1, True], [1, 1, 0, True],                     # a tie: the first
              [2, 2, 0, False], [2, 2, 1, False], [2, 2, 1, False]]
    assert sorted(map_cells(points)) == [[0, 0, 1, False], [0, 1, 0, True],
                                         [1, 1, 1, True], [2, 2, 1, False]]


@pytest.mark.parametrize("columns", [None, "200"])
def test_plain_text_fits_80_columns(columns):
    env = {"COLUMNS": columns}
    outs = [ok(run("demo", "--format", "plain", env=env))]
    outs += [ok(run("demo", name, "--format", "plain", env=env)) for name in NAMES]
    outs += [ok(run("demo", "learning-rate", "--lrs", "0.001,0.45,1,1.1,7", "--start",
                    "-123.456", "--format", "plain", env=env))]
    for result in outs:
        for line in (result.stdout + result.stderr).splitlines():
            assert len(line) <= 80, line


def test_vanishing_gradients_words_follow_the_ratios():
    for depth in (2, 3, 10):
        result = ok(run("demo", "vanishing-gradients", "--depth", depth, "--format", "json"))
        data = json.loads(result.stdout)
        notes = data["steps"][-1]["notes"]
        for name, note in zip(("sigmoid", "relu"), notes):
            ratio = data["result"][name]["ratio"]
            assert note.startswith(name)
            assert ("within one order of magnitude" in note) == (0.1 < ratio < 10), note
            assert ("barely learns" in note) == (ratio <= 0.01), note


def test_spirals_map_fits_the_terminal():
    result = ok(run("demo", "spirals", "--epochs", "5", "--size", "300", "--format", "plain",
                    env={"COLUMNS": "50"}))
    maps = [ln for ln in result.stdout.splitlines() if ln.startswith(("|", "+-"))]
    assert maps and max(len(ln) for ln in maps) <= 50


# ------------------------------------------------------------------ bad options

@pytest.mark.parametrize("args", [
    ["learning-rate", "--lrs", "a"],
    ["learning-rate", "--lrs", "0.1,-1"],
    ["learning-rate", "--start", "0"],
    ["vanishing-gradients", "--depth", "0"],
    ["dropout", "--p", "1.5"],
    ["backprop", "--w1", "1,2"],
    ["backprop", "--lr", "0"],
    ["optimizers", "--lr", "rmsprop=0.1"],
    ["spirals", "--hidden", "0"],
    ["xor", "--epochs", "-3"],
    ["no-such-lesson"],
])
def test_bad_options_are_one_line_usage_errors(args):
    result = run("demo", *args)
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr


# ------------------------------------------------------------------ console additions

def _console(color):
    return Console(color=color, out=io.StringIO(), err=io.StringIO())


@pytest.mark.parametrize("color", [False, True])
def test_console_lesson_methods(color):
    c = _console(color)
    c.bar_table(["layer"], [[1], [2]], {"norm": [1e-6, 1.0]}, log=True, width=10)
    c.curves({"a": [100, 10, 1], "b": [50, 5, 0.5]}, x_label="step", log=True)
    probs = [[0.0, 0.3, 0.5], [0.7, 0.9, 1.0]]
    c.class_map(probs, [[0, 0, 0, True], [1, 2, 1, False]], caption="epoch 1")
    with c.live_map() as live:
        live.update(probs, [], "epoch 2")
    text = c.out.getvalue()
    if not color:
        assert not CONTROL.search(text)
        assert "#" * 10 in text and "step 3" in text
        assert "|o.:|" in text and "|+#X|" in text
        assert not live.active
    else:
        # rich drew them (no colour codes: a StringIO is not a terminal to rich)
        assert "\u2588" in text and "epoch 2" in text and live.active


@pytest.mark.parametrize("name", NAMES)
def test_lesson_through_a_rich_console(name):
    """The rich paths (coloured tables, bars, curves, the live map) run end to end."""
    from neuralcli.cli.app import App
    from neuralcli.cli.demo import command

    console = Console(color=True, out=io.StringIO(), err=io.StringIO())
    fast = {"spirals": ["--epochs", "20"], "optimizers": ["--epochs", "20"]}.get(name, [])
    result = CliRunner().invoke(command, [name, *fast], obj=App(console))
    assert result.exit_code == 0, (result.output, result.exception)
    text = console.out.getvalue()
    assert text.startswith(name) and "Takeaway:" in text


def test_help_has_examples():
    for args in (["demo"], ["demo", "backprop"], ["demo", "spirals"]):
        result = ok(run(*args, "--help"))
        assert "Examples:" in result.stdout


@pytest.mark.parametrize("start", ["10", "0.5"])
def test_learning_rate_names_the_limit_a_run_stopped_at(start):
    args = ["demo", "learning-rate", "--lrs", "3,5,10", "--start", start]
    result = run(*args)
    assert result.exit_code == 0, result.output
    data = json.loads(run(*args, "--format", "json").stdout)
    stops = re.findall(r"lr (\S+): stopped at step (\d+) with x\d+ = \S+, the first \|x\| "
                       r"past (\S+)", result.stdout)
    assert len(stops) == 3
    for lr, step, limit in stops:
        x, k = float(start), int(step)
        xs = [x]
        for _ in range(k):
            xs.append(xs[-1] - float(lr) * 2 * xs[-1])
        # the step it names is the first past the limit it names
        assert abs(xs[k]) > float(limit) >= max(abs(v) for v in xs[:k])
        assert float(limit) == pytest.approx(data["result"]["stop_limit"], rel=1e-2)
