"""`neuralcli plot`: the numbers behind each figure (ROC, precision-recall and calibration
against scikit-learn), the images it writes (valid PNG and SVG holding what they should),
and the one-line errors of a kind that does not apply or lacks its data."""
import io
import json

import numpy as np
import pytest
from click.testing import CliRunner

from helpers import run_python
from neuralcli import metrics
from neuralcli.cli import cli

sk = pytest.importorskip("sklearn.metrics")
calibration = pytest.importorskip("sklearn.calibration")
pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

FAST = ["--epochs", "15", "--hidden", "8,8", "--batch-size", "32", "--lr", "0.02"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_error(result, *needles, code=1):
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle.lower() in errors[0].lower(), (needle, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Small models trained by the CLI: binary and multiclass on two number inputs, and
    a regression model of five inputs, each with its data."""
    where = tmp_path_factory.mktemp("plots")
    out = {}
    for name, data in (("binary", "moons"), ("multiclass", "blobs"),
                       ("regression", "regression")):
        csv, model = where / f"{data}.csv", where / f"{data}.ncm"
        assert run("datasets", data, "-o", csv).exit_code == 0
        result = run("-q", "train", csv, "-o", model, *FAST)
        assert result.exit_code == 0, result.stderr
        out[name] = (model, csv)
    out["dir"] = where
    return out


# ------------------------------------------------------------------ the curves' numbers

def scores(seed, n=400, ties=True):
    rng = np.random.default_rng(seed)
    y = rng.random(n) < 0.35
    s = rng.random(n) * 0.6 + 0.4 * y
    return y, (np.round(s, 2) if ties else s)


@pytest.mark.parametrize("seed,ties", [(0, True), (1, False), (2, True)])
def test_roc_curve_matches_scikit_learn(seed, ties):
    y, s = scores(seed, ties=ties)
    fpr, tpr, thresholds = metrics.roc_curve(y, s)
    want = sk.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want[0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(tpr, want[1], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(thresholds, want[2])
    # the area under our curve is the AUC eval reports, and scikit-learn's
    assert sk.auc(fpr, tpr) == pytest.approx(sk.roc_auc_score(y, s), abs=1e-12)
    assert metrics.roc_auc(y.astype(int), np.column_stack([1 - s, s]), 2) == \
        pytest.approx(sk.auc(fpr, tpr), abs=1e-12)


def test_weighted_roc_curve_matches_scikit_learn():
    y, s = scores(3)
    w = np.random.default_rng(4).random(len(y)) * 3
    fpr, tpr, _ = metrics.roc_curve(y, s, w)
    want = sk.roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want[0], atol=1e-12)
    np.testing.assert_allclose(tpr, want[1], atol=1e-12)


@pytest.mark.parametrize("seed,ties", [(0, True), (5, False)])
def test_precision_recall_curve_and_average_precision_match_scikit_learn(seed, ties):
    y, s = scores(seed, ties=ties)
    precision, recall, thresholds = metrics.precision_recall_curve(y, s)
    want = sk.precision_recall_curve(y, s)
    np.testing.assert_allclose(precision, want[0], atol=1e-15)
    np.testing.assert_allclose(recall, want[1], atol=1e-15)
    np.testing.assert_array_equal(thresholds, want[2])
    assert metrics.average_precision(y, s) == pytest.approx(
        sk.average_precision_score(y, s), abs=1e-12)


@pytest.mark.parametrize("bins", [5, 10, 13])
def test_calibration_curve_matches_scikit_learn(bins):
    y, s = scores(6)
    s = np.clip(s, 0, 1)
    s[:3] = [0.0, 1.0, 0.5]     # the edges fall in the first and last bins
    observed, predicted, count = metrics.calibration_curve(y, s, bins)
    want_observed, want_predicted = calibration.calibration_curve(y, s, n_bins=bins)
    np.testing.assert_allclose(observed, want_observed, atol=1e-15)
    np.testing.assert_allclose(predicted, want_predicted, atol=1e-15)
    assert count.sum() == len(y) and np.all(count > 0)


def test_undefined_curves_are_none():
    y = np.ones(5, bool)
    s = np.linspace(0, 1, 5)
    assert metrics.roc_curve(y, s) is None
    assert metrics.roc_curve(~y, s) is None
    assert metrics.precision_recall_curve(~y, s) is None
    assert metrics.average_precision(~y, s) is None
    with pytest.raises(ValueError, match="lie in"):
        metrics.calibration_curve(y, s + 0.5)


def test_the_roc_figure_holds_the_curve_of_the_models_predictions(models):
    """The ROC numbers of a trained classifier are scikit-learn's roc_curve of its
    probabilities on the data, and the AUC is the one eval prints."""
    from neuralcli import plots, scoring
    from neuralcli.model import TrainedModel
    from neuralcli.reader import read_table

    path, csv = models["binary"]
    model = TrainedModel.load(path)
    table = read_table(str(csv), kinds=model.pre.input_kinds())
    scored = scoring.score_tables(model, [table])
    roc = plots.roc(model, scored)
    (curve,) = roc["curves"]
    fpr, tpr, _ = sk.roc_curve(scored.y, scored.proba[:, 1], drop_intermediate=False)
    np.testing.assert_allclose(curve["fpr"], fpr, atol=1e-15)
    np.testing.assert_allclose(curve["tpr"], tpr, atol=1e-15)
    assert curve["auc"] == pytest.approx(sk.auc(fpr, tpr), abs=1e-12)
    result = run("eval", path, csv, "--json")
    assert json.loads(result.stdout)["model"]["roc_auc"] == pytest.approx(roc["auc"],
                                                                          abs=1e-12)

    path, csv = models["multiclass"]
    model = TrainedModel.load(path)
    scored = scoring.score_tables(model, [read_table(str(csv),
                                                     kinds=model.pre.input_kinds())])
    roc = plots.roc(model, scored)
    assert [c["label"] for c in roc["curves"]] == list(model.pre.class_names)
    for k, c in enumerate(roc["curves"]):
        assert c["auc"] == pytest.approx(sk.roc_auc_score(scored.y == k,
                                                          scored.proba[:, k]), abs=1e-12)
    assert roc["auc"] == pytest.approx(sk.roc_auc_score(scored.y, scored.proba,
                                                        multi_class="ovr"), abs=1e-12)


# ------------------------------------------------------------------ the images

def png_pixels(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    image = Image.open(io.BytesIO(data))
    image.verify()
    return np.asarray(Image.open(io.BytesIO(data)).convert("L"), np.float64)


def svg_text(path):
    import xml.etree.ElementTree as ET

    text = path.read_text()
    root = ET.fromstring(text)       # well-formed XML ...
    assert root.tag.endswith("}svg")  # ... whose root is an SVG
    return text


def drawn_texts(svg):
    """The texts an SVG of matplotlib's shows: it draws each as glyph paths after a
    comment holding the text."""
    import html
    import re

    return [html.unescape(t) for t in re.findall(r"<!-- (.*?) -->", svg, re.S)]


KINDS = {
    "binary": {"loss": ["epoch", "loss", "validation", "best epoch"],
               "lr": ["learning rate", "epoch"],
               "confusion": ["predicted class", "true class"],
               "roc": ["false positive rate", "true positive rate", "AUC"],
               "pr": ["recall", "precision", "AP "],
               "calibration": ["observed share", "predicted probability"],
               "boundary": ["P(1)", "neuron 1", "First-layer neurons", "with the data's"],
               "importance": ["Permutation importance (5 shuffles, seed 0)",
                              "drop in accuracy when the column is shuffled"]},
    "multiclass": {"confusion": ["predicted class"],
                   "roc": ["one class against the rest", "class a (AUC"],
                   "calibration": ["probability of the predicted class"],
                   "boundary": ["predicted class", "neuron 8", "x1", "x2"]},
    "regression": {"residuals": ["residual (actual - predicted)", "predicted y"],
                   "importance": ["Permutation importance", "x1", "x5"],
                   "predicted-vs-actual": ["actual y", "predicted = actual"]},
}


@pytest.mark.parametrize("task,kind", [(t, k) for t in KINDS for k in KINDS[t]])
def test_each_kind_draws_an_svg_with_its_labels_and_a_png_that_is_not_blank(models, task,
                                                                              kind):
    model, csv = models[task]
    where = models["dir"]
    svg = where / f"{task}-{kind}.svg"
    result = run("plot", model, csv, "--kind", kind, "-o", svg)
    assert result.exit_code == 0, result.stderr
    assert f"wrote {svg}" in result.stderr
    texts = drawn_texts(svg_text(svg))
    for label in KINDS[task][kind]:
        assert any(label in t for t in texts), (kind, label, texts)
    png = where / f"{task}-{kind}.png"
    assert run("plot", model, csv, "--kind", kind, "-o", png).exit_code == 0
    pixels = png_pixels(png)
    assert pixels.shape[0] > 300 and pixels.shape[1] > 300
    # a drawn figure: ink on a white page, not one flat colour
    assert pixels.std() > 10 and (pixels < 128).mean() > 0.002


def test_the_boundary_map_shows_what_the_model_predicts(models):
    """The map's colour at a data point is the model's own probability there."""
    from neuralcli import plots, scoring
    from neuralcli.model import TrainedModel
    from neuralcli.reader import read_table

    path, csv = models["binary"]
    model = TrainedModel.load(path)
    table = read_table(str(csv), kinds=model.pre.input_kinds())
    names = [s["name"] for s in model.pre.specs]
    scored = scoring.score_tables(model, [table], keep=names)
    b = plots.boundary(model, scored, size=201, neuron_size=11)
    x0, x1, y0, y1 = b["extent"]
    assert x0 < scored.columns[names[0]].min() and x1 > scored.columns[names[0]].max()
    assert y0 < scored.columns[names[1]].min() and y1 > scored.columns[names[1]].max()
    # the grid's corners and centre, as rows of a table through the model
    from neuralcli.table import NumberColumn, Table

    px = np.array([x0, x1, x0, x1, (x0 + x1) / 2])
    py = np.array([y0, y0, y1, y1, (y0 + y1) / 2])
    at = Table(columns=names, data=[NumberColumn(v, np.zeros(5, bool))
                                           for v in (px, py)])
    _, _, proba, _ = model.predict_table(at)
    got = b["map"][[0, 0, -1, -1, 100], [0, -1, 0, -1, 100]]
    np.testing.assert_allclose(got, proba[:, 1], rtol=1e-5, atol=1e-6)
    assert b["neurons"].shape == (8, 11, 11) and b["n_neurons"] == 8
    # the first neuron's map is relu(w . x_standardized + b) at the grid's corner
    x = model.encode_inputs(Table(columns=names,
                                  data=[NumberColumn(np.array([x0]), np.zeros(1, bool)),
                                        NumberColumn(np.array([y0]), np.zeros(1, bool))]))
    w, bias = model.net.weights[0], model.net.biases[0]
    want = max(0.0, float(np.asarray(x.dense, np.float64)[0] @ w[:, 0] + bias[0]))
    assert b["neurons"][0, 0, 0] == pytest.approx(want, rel=1e-5, abs=1e-6)


def test_the_importance_figure_holds_evals_importance(models):
    """The bars are the permutation importance `eval --importance` reports."""
    from neuralcli import plots, scoring
    from neuralcli.model import TrainedModel
    from neuralcli.reader import read_table

    path, csv = models["regression"]
    model = TrainedModel.load(path)
    scored = scoring.score_tables(model, [read_table(str(csv),
                                                     kinds=model.pre.input_kinds())],
                                  inputs=True)
    got = plots.importance(model, scored)
    want = json.loads(run("eval", path, csv, "--importance", "--json").stdout)["importance"]
    assert [c["column"] for c in got["columns"]] == [c["column"] for c in want["columns"]]
    for g, w in zip(got["columns"], want["columns"]):
        for key in ("mean", "low", "high"):
            assert g[key] == pytest.approx(w[key], abs=1e-12), (g["column"], key)
    assert (got["repeats"], got["seed"]) == (want["repeats"], want["seed"]) == (5, 0)
    # Friedman's function: x1, x2 and x4 matter, x5 a little
    assert got["columns"][0]["mean"] > 0.1


def with_diagnostics(src, dst, dead_layers=(0.0, 0.25)):
    """A copy of a model whose history carries per-epoch diagnostics in the schema
    training records them in."""
    from neuralcli.model import TrainedModel

    model = TrainedModel.load(src)
    n = len(model.net.weights)
    for i, h in enumerate(model.history):
        h["diagnostics"] = {
            "grad_rms": [10.0 ** -(j + 1) / (i + 1) for j in range(n)],
            "weight_norm": [1.0 + 0.1 * i + j for j in range(n)],
            "update_ratio": [1e-3 / (i + 1)] * n,
            "dead": [min(1.0, d + 0.01 * i) for d in dead_layers] + [None] * (n - 2),
            "saturated": [None] * (n - 1) + [0.1],
        }
    model.save(dst)
    return dst


def test_gradients_and_dead_draw_the_diagnostics_of_the_history(models):
    src, _ = models["binary"]
    model = with_diagnostics(src, models["dir"] / "diag.ncm")
    svg = models["dir"] / "gradients.svg"
    result = run("plot", model, "--kind", "gradients", "-o", svg)
    assert result.exit_code == 0, result.stderr
    text = drawn_texts(svg_text(svg))
    for label in ("Gradient RMS per layer", "Update-to-weight ratio per layer",
                  "Weight norm per layer", "layer 1 (relu)", "layer 3 (identity)"):
        assert label in text, (label, text)
    svg = models["dir"] / "dead.svg"
    assert run("plot", model, "--kind", "dead", "-o", svg).exit_code == 0
    text = drawn_texts(svg_text(svg))
    assert "Dead units (ReLU family) per layer" in text
    assert "Saturated units (sigmoid, tanh) per layer" in text

    from neuralcli import plots
    from neuralcli.model import TrainedModel

    d = plots.diagnostics(TrainedModel.load(model))
    assert d["grad_rms"].shape == (len(d["epoch"]), 3)
    assert d["grad_rms"][0, 1] == pytest.approx(1e-2)
    assert np.isnan(d["dead"][:, 2]).all() and d["dead"][1, 1] == pytest.approx(0.26)


# ------------------------------------------------------------------ what a user is told

def test_a_kind_that_needs_data_says_so(models):
    model, _ = models["binary"]
    result = run("plot", model, "--kind", "roc", "-o", models["dir"] / "x.png")
    one_error(result, "--kind roc", "needs DATA", "neuralcli plot", code=2)


def test_a_kind_of_another_task_says_what_to_draw_instead(models):
    model, csv = models["regression"]
    line = one_error(run("plot", model, csv, "--kind", "roc", "-o",
                         models["dir"] / "x.png"), "applies to classifiers", "residuals")
    assert "regression model" in line
    model, csv = models["binary"]
    one_error(run("plot", model, csv, "--kind", "residuals", "-o",
                  models["dir"] / "x.png"), "applies to regression", "confusion")


def test_boundary_needs_two_number_inputs(models):
    model, csv = models["regression"]
    one_error(run("plot", model, csv, "--kind", "boundary", "-o",
                  models["dir"] / "x.png"), "two number inputs", "5 input columns", "x1")


def without_diagnostics(src, dst):
    """A copy of a model whose history holds no diagnostics, as an earlier version wrote."""
    from neuralcli.model import TrainedModel

    model = TrainedModel.load(src)
    for h in model.history:
        h.pop("diagnostics", None)
    model.save(dst)
    return dst


def test_training_records_the_diagnostics_the_figures_draw(models):
    """A model trained now carries per-epoch diagnostics, and both kinds draw them."""
    from neuralcli import plots
    from neuralcli.model import TrainedModel

    path, _ = models["binary"]
    model = TrainedModel.load(path)
    d = plots.diagnostics(model)
    assert d is not None and d["grad_rms"].shape == (len(model.history), 3)
    assert np.all(np.isfinite(d["grad_rms"])) and np.all(d["grad_rms"] > 0)
    assert np.all(np.isfinite(d["dead"][:, :2])) and np.all(np.isnan(d["dead"][:, 2]))
    for kind in ("gradients", "dead"):
        out = models["dir"] / f"trained-{kind}.png"
        result = run("plot", path, "--kind", kind, "-o", out)
        assert result.exit_code == 0, result.stderr
        assert png_pixels(out).std() > 10


def test_a_history_without_diagnostics_says_so(models):
    model = without_diagnostics(models["binary"][0], models["dir"] / "bare.ncm")
    for kind in ("gradients", "dead"):
        one_error(run("plot", model, "--kind", kind, "-o", models["dir"] / "x.png"),
                  f"--kind {kind}", "diagnostics", "holds none")


def test_dead_without_relu_sigmoid_or_tanh_layers_says_so(models):
    src, _ = models["regression"]
    from neuralcli.model import TrainedModel

    dst = models["dir"] / "no-dead.ncm"
    model = TrainedModel.load(with_diagnostics(src, dst))
    for h in model.history:
        h["diagnostics"]["dead"] = [None] * 3
        h["diagnostics"]["saturated"] = [None] * 3
    model.save(dst)
    one_error(run("plot", dst, "--kind", "dead", "-o", models["dir"] / "x.png"),
              "no layer of this model")


def test_the_output_must_be_png_or_svg(models):
    model, _ = models["binary"]
    one_error(run("plot", model, "--kind", "loss", "-o", models["dir"] / "x.pdf"),
              "-o", "x.pdf", ".png or .svg", code=2)
    one_error(run("plot", model, "--kind", "nope", "-o", "x.png"), "--kind", code=2)


def test_a_missing_model_file_is_one_line(models):
    one_error(run("plot", models["dir"] / "absent.ncm", "--kind", "loss", "-o",
                  models["dir"] / "x.png"), "absent.ncm")


def test_without_matplotlib_one_line_names_the_extra(models):
    model, csv = models["binary"]
    out = models["dir"] / "none.png"
    for args in (["plot", str(model), "--kind", "loss", "-o", str(out)],
                 ["report", str(model), str(csv), "-o", str(models["dir"] / "r.html")]):
        code = ("import sys; sys.modules['matplotlib'] = None\n"
                "from neuralcli.cli import main\n"
                f"sys.argv = ['neuralcli'] + {args!r}\nmain()")
        proc = run_python(code)
        assert proc.returncode == 1, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert lines == ['error: drawing figures needs matplotlib: pip install '
                         '"neuralcli[plot]"'], proc.stderr
    assert not out.exists()
