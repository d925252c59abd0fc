"""`neuralcli report`: one self-contained HTML page. What it holds (eval's numbers, the
figures as data URIs, nothing fetched), and how it loads in a real browser: headless
Chromium shows it with no console error, every figure decoded and drawn, and prints it."""
import base64
import html
import html.parser
import io
import json
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from click.testing import CliRunner

import browser
from neuralcli.cli import cli

pytest.importorskip("matplotlib")
Image = pytest.importorskip("PIL.Image")

FAST = ["--epochs", "15", "--hidden", "8,8", "--batch-size", "32", "--lr", "0.02"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


class Parts(html.parser.HTMLParser):
    """The page's tags with their attributes, and its headings' text."""

    def __init__(self):
        super().__init__()
        self.tags = []
        self.headings = []
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("h1", "h2", "h3"):
            self._in = tag
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None

    def handle_data(self, data):
        if self._in:
            self.headings[-1] += data


def parts(page):
    p = Parts()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Reports of a binary model of two number inputs (whose history carries
    diagnostics), of the loan model (four inputs) and of a regression model."""
    from test_plots import with_diagnostics

    where = tmp_path_factory.mktemp("report")
    out = {"dir": where}
    for name, data in (("moons", "moons"), ("loan", "loan"), ("regression", "regression")):
        csv, model = where / f"{data}.csv", where / f"{data}.ncm"
        assert run("datasets", data, "-o", csv).exit_code == 0
        result = run("-q", "train", csv, "-o", model, *FAST)
        assert result.exit_code == 0, result.stderr
        if name == "moons":
            model = with_diagnostics(model, where / "moons-diag.ncm")
        page = where / f"{name}.html"
        result = run("report", model, csv, "-o", page)
        assert result.exit_code == 0, result.stderr
        assert f"wrote {page}" in result.stderr
        out[name] = (model, csv, page)
    return out


def test_the_page_is_self_contained(pages):
    for name in ("moons", "loan", "regression"):
        page = pages[name][2].read_text(encoding="utf-8")
        p = parts(page)
        tags = [t for t, _ in p.tags]
        # no script, no linked style sheet or font, no frame: nothing to fetch or run
        for tag in ("script", "link", "iframe", "object", "embed"):
            assert tag not in tags, (name, tag)
        images = [a for t, a in p.tags if t == "img"]
        assert len(images) >= 4
        for a in images:
            assert a["src"].startswith("data:image/svg+xml;base64,"), a["src"][:40]
            assert a.get("alt")
            svg = base64.b64decode(a["src"].split(",", 1)[1]).decode("utf-8")
            root = ET.fromstring(svg)
            assert root.tag.endswith("}svg")
            # the figure fetches nothing either: no image or font by address
            assert not re.search(r'(href|src)="(?!#|data:)', svg), name
        for _, a in p.tags:
            for key in ("href", "src"):
                if key in a:
                    assert a[key].startswith(("data:", "#")), (name, a[key][:60])
        assert "@media print" in page and "url(" not in page.split("</style>")[0]


def test_the_sections_follow_the_model(pages):
    from neuralcli.plots import KINDS

    moons = parts(pages["moons"][2].read_text())
    assert moons.headings[0] == "Binary model of 'moon'"
    for h in ("Scores beside the baseline", "Training", "Predictions", "The model's map",
              "The model", "Network", "Input columns"):
        assert h in moons.headings, (h, moons.headings)
    alts = [a.get("alt") for t, a in moons.tags if t == "img"]
    for kind in ("loss", "lr", "gradients", "dead", "confusion", "roc", "pr",
                 "calibration", "boundary"):
        from neuralcli.plots import KINDS

        assert KINDS[kind].what in alts, kind
    loan = parts(pages["loan"][2].read_text())
    assert "The model's map" not in loan.headings
    assert "Feature importance" in loan.headings
    # training records the diagnostics, and the page draws them
    alts = [a.get("alt") for t, a in loan.tags if t == "img"]
    assert KINDS["gradients"].what in alts and KINDS["dead"].what in alts
    reg = parts(pages["regression"][2].read_text())
    alts = [a.get("alt") for t, a in reg.tags if t == "img"]
    from neuralcli.plots import KINDS

    assert KINDS["residuals"].what in alts and KINDS["predicted-vs-actual"].what in alts
    assert KINDS["roc"].what not in alts


def cells(page):
    """{first cell: [the row's other cells]} of every table row of the page."""
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, re.S):
        texts = [html.unescape(re.sub(r"<[^>]+>", "", c))
                 for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        if texts:
            rows.setdefault(texts[0], texts[1:])
    return rows


def test_the_scores_are_evals(pages):
    from neuralcli.htmlreport import number

    model, csv, page = pages["loan"]
    got = json.loads(run("eval", model, csv, "--json").stdout)
    rows = cells(page.read_text())
    for label, key in (("accuracy", "accuracy"), ("log-loss", "log_loss"),
                       ("macro F1", "macro_f1"), ("weighted F1", "weighted_f1"),
                       ("ROC AUC", "roc_auc")):
        assert rows[label] == [number(got["model"][key]), number(got["baseline"][key])], \
            label
    for i, name in enumerate(got["classes"]):
        assert rows[name] == [number(got["model"][k][i]) for k in
                              ("precision", "recall", "f1", "support")]
    # the importance table is eval --importance's (the first table naming the columns)
    ranked = json.loads(run("eval", model, csv, "--importance", "--json").stdout)
    assert len(ranked["importance"]["columns"]) == 4
    for c in ranked["importance"]["columns"]:
        assert rows[c["column"]] == [number(c[k]) for k in ("mean", "low", "high")]
    model, csv, page = pages["regression"]
    got = json.loads(run("eval", model, csv, "--json").stdout)
    rows = cells(page.read_text())
    for label, key in (("MSE", "mse"), ("RMSE", "rmse"), ("MAE", "mae"), ("R\u00b2", "r2")):
        assert rows[label] == [number(got["model"][key]), number(got["baseline"][key])]


def test_the_trouble_the_diagnostics_show_is_flagged(pages, tmp_path):
    """A layer that stays mostly dead is named above the curves, as train flags it."""
    from test_plots import with_diagnostics

    from neuralcli.diagnostics import trouble
    from neuralcli.model import TrainedModel

    model, csv, page = pages["moons"]
    assert '<ul class="flags">' not in page.read_text()
    dead = with_diagnostics(model, tmp_path / "dead.ncm", dead_layers=(0.2, 0.7))
    out = tmp_path / "dead.html"
    result = run("report", dead, csv, "-o", out)
    assert result.exit_code == 0, result.stderr
    m = TrainedModel.load(dead)
    lines = trouble(m.history, m.net.activations)
    assert any(line.startswith("layer 2: ") and "dead since epoch 1" in line
               for line in lines), lines
    flagged = re.search(r'<ul class="flags">(.*?)</ul>', out.read_text(), re.S).group(1)
    assert [html.unescape(t) for t in re.findall(r"<li>(.*?)</li>", flagged)] == lines


def test_a_history_without_diagnostics_is_said(pages, tmp_path):
    from test_plots import without_diagnostics

    model, csv, _ = pages["regression"]
    bare = without_diagnostics(model, tmp_path / "bare.ncm")
    out = tmp_path / "bare.html"
    assert run("report", bare, csv, "-o", out).exit_code == 0
    text = out.read_text()
    assert "holds no per-epoch diagnostics" in text
    from neuralcli.plots import KINDS

    assert KINDS["gradients"].what not in text and KINDS["loss"].what in text


def test_report_errors_are_one_line(pages):
    model, csv, _ = pages["loan"]
    result = run("report", model, pages["dir"] / "absent.csv", "-o", pages["dir"] / "x.html")
    assert result.exit_code == 1 and "absent.csv" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = run("report", model, "-o", pages["dir"] / "x.html")
    assert result.exit_code == 2 and "DATA" in result.stderr
    assert not (pages["dir"] / "x.html").exists()


# ------------------------------------------------------------------ in a real browser

def chromium():
    path = browser.find_chromium()
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium)")
    return path


def test_the_browser_harness_catches_errors_and_fetches(tmp_path):
    """The checks below can fail: a page with a console error, an uncaught exception and
    a missing image is reported with all three."""
    exe = chromium()
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png" alt="x">'
                   '<script>console.error("boom"); undefined_function();</script>'
                   '</body></html>')
    loaded = browser.load(bad.as_uri(), executable=exe)
    text = "\n".join(loaded.errors)
    assert "console.error: boom" in text
    assert "undefined_function" in text
    assert "ERR_FILE_NOT_FOUND" in text
    assert any(u.endswith("missing.png") for u in loaded.requests)


@pytest.mark.parametrize("name", ["moons", "regression"])
def test_chromium_shows_the_page_with_no_error_and_every_figure_drawn(pages, name):
    exe = chromium()
    page = pages[name][2]
    loaded = browser.load(page.as_uri(), executable=exe)
    assert loaded.errors == []
    # it asked for the page itself and its inline data, nothing else
    assert loaded.requests[0] == page.as_uri()
    assert all(u.startswith(("file:", "data:")) for u in loaded.requests), \
        [u[:80] for u in loaded.requests if not u.startswith(("file:", "data:"))]
    assert len(loaded.images) >= 4
    shot = np.asarray(Image.open(io.BytesIO(loaded.screenshot)).convert("L"), np.float64)
    assert shot.shape[1] == 1366 and shot.shape[0] >= loaded.height - 1
    for img in loaded.images:
        assert img["decoded"] and img["natural"] > 100, img["alt"]
        # laid out at a readable size on a laptop's screen, inside the page
        assert img["width"] >= 400 and img["height"] >= 150, img
        assert img["x"] >= 0 and img["x"] + img["width"] <= 1366, img
        x, y = int(img["x"]), int(img["y"])
        region = shot[y:y + int(img["height"]), x:x + int(img["width"])]
        # the figure is drawn there: ink and colour, not a blank box
        assert region.std() > 15, (img["alt"], region.std())
        assert (region < 200).mean() > 0.01, img["alt"]
    # and it prints: a PDF of a few pages
    assert loaded.pdf[:5] == b"%PDF-"
    pages_printed = len(re.findall(rb"/Type\s*/Page[^s]", loaded.pdf))
    assert 2 <= pages_printed <= 12, pages_printed


def test_names_from_the_data_are_escaped(tmp_path):
    """Column and class names are the data's text: the page shows them, never as markup."""
    rng = np.random.default_rng(0)
    rows = ["<i>size</i>,a&b,\"x\"\"y\",label"]
    for _ in range(120):
        v = rng.normal(size=3)
        label = "<script>alert(1)</script>" if v.sum() > 0 else "R&D"
        rows.append(f"{v[0]:.4f},{v[1]:.4f},{v[2]:.4f},{label}")
    csv = tmp_path / "odd.csv"
    csv.write_text("\n".join(rows) + "\n")
    model, page = tmp_path / "odd.ncm", tmp_path / "odd.html"
    assert run("-q", "train", csv, "-o", model, *FAST).exit_code == 0
    result = run("report", model, csv, "-o", page)
    assert result.exit_code == 0, result.stderr
    text = page.read_text()
    assert "<script" not in text and "<i>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "&lt;i&gt;size&lt;/i&gt;" in text and "R&amp;D" in text
    rows = cells(text)
    assert "R&D" in rows and "<script>alert(1)</script>" in rows
