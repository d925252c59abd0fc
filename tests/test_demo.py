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
    assert len(lines) < 80, f"{name}: {len(lines)} lines"


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
    verdicts = {run_["lr"]: run_["verdict"] for run_ in r["runs"]}
    assert verdicts[0.01] in ("still converging", "converged")
    assert verdicts[0.1] == "converged"
    assert verdicts[0.5] == "converged"
    assert verdicts[0.9] == "oscillating"
    assert verdicts[5.0] == "diverged"
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
    assert r["runs"][0]["verdict"] == "oscillating"


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
