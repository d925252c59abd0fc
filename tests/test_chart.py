"""The terminal loss chart: its axis labels name what is drawn, and never run together."""
import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

from neuralcli.cli import cli
from neuralcli.cli.console import ascii_chart

HEIGHT = 10


def parts(lines, height=HEIGHT):
    """(row labels, row bodies, x-axis label text, plot columns) of a chart's lines."""
    label_w = lines[0].index(" |")
    labels = [ln[:label_w].strip() for ln in lines[:height]]
    bodies = [ln[label_w + 2:] for ln in lines[:height]]
    cols = len(lines[height]) - label_w - 2
    assert lines[height] == " " * label_w + " +" + "-" * cols
    x_text = lines[height + 1][label_w + 2:]
    return labels, bodies, x_text, cols


def losses(n, seed):
    """A falling, noisy loss with a one-epoch spike and a one-epoch dip, the kind a
    sampled chart can step over."""
    rng = np.random.default_rng(seed)
    v = 0.7 * np.exp(-np.arange(n) / max(1, n / 5)) + 0.05 + 0.02 * rng.random(n)
    if n > 3:
        v[n // 3 + 1] = 1.5
        v[2 * n // 3 + 1] = 0.001
    return v.tolist()


@pytest.mark.parametrize("n", [1, 2, 3, 500, 5000])
@pytest.mark.parametrize("width", range(30, 73))
def test_the_labelled_extremes_are_drawn(n, width):
    train = losses(n, width)
    series = {"train": train, "validation": [v * 1.1 for v in losses(n, width + 1)]}
    labels, bodies, x_text, cols = parts(ascii_chart(series, height=HEIGHT, width=width))
    assert cols <= width
    labelled = [r for r, t in enumerate(labels) if t]
    assert labelled, labels
    for r in labelled:  # a labelled row holds a point
        assert bodies[r].strip(), (r, labels[r], bodies)
    every = train + series["validation"]
    if len(labelled) == 2:
        assert labelled == [0, HEIGHT - 1]
        top, bottom = float(labels[0]), float(labels[-1])
        # within the series' range, to the labels' four significant digits
        assert min(every) * (1 - 5e-4) <= bottom < top <= max(every) * (1 + 5e-4)
        if n <= width:  # nothing was sampled away: the true extremes
            assert (labels[0], labels[-1]) == (f"{max(every):.4g}", f"{min(every):.4g}")


@pytest.mark.parametrize("n", [1, 2, 3, 500, 5000])
@pytest.mark.parametrize("width", range(30, 73))
def test_x_axis_labels_never_run_together(n, width):
    labels, bodies, x_text, cols = parts(ascii_chart({"train": losses(n, 0)}, height=HEIGHT,
                                                     width=width))
    if n == 1:
        assert x_text == "1"
        return
    # "1" under the first column and "epoch N" ending under the last, a space between
    assert re.fullmatch(rf"1 +epoch {n}", x_text), x_text
    assert len(x_text) == cols
    # the first and the last point sit in the first and the last column
    assert any(b[0] != " " for b in bodies) and any(b[cols - 1:].strip() for b in bodies)


def test_a_short_series_is_spread_to_hold_its_labels():
    lines = ascii_chart({"train": [0.7, 0.5], "validation": [0.8, 0.6]}, height=4, width=40)
    assert lines == [
        "0.8 |o        ",
        "    |*        ",
        "    |        o",
        "0.5 |        *",
        "    +---------",
        "     1 epoch 2",
        "     * train   o validation",
    ]


def test_a_sampled_series_is_labelled_with_what_is_drawn():
    # 5000 epochs on 40 columns: the spike at epoch 2 falls between the sampled epochs
    values = [1.0 - i / 5000 for i in range(5000)]
    values[1] = 9.0
    lines = ascii_chart({"train": values}, height=5, width=40)
    labels, bodies, _, _ = parts(lines, height=5)
    assert labels[0] == "1" and bodies[0][0] == "*"
    assert "9" not in labels
    assert float(labels[-1]) == pytest.approx(values[-1], abs=5e-5) and bodies[-1][-1] == "*"


def test_close_extremes_get_the_digits_that_tell_them_apart():
    labels, bodies, _, _ = parts(ascii_chart({"train": [0.693147, 0.693141, 0.693139]},
                                             height=5, width=40), height=5)
    assert (labels[0], labels[-1]) == ("0.69315", "0.69314")


def test_a_flat_series_is_one_labelled_line():
    labels, bodies, x_text, _ = parts(ascii_chart({"train": [0.25] * 4}, height=5,
                                                  width=40), height=5)
    assert labels == ["", "", "0.25", "", ""]
    assert bodies[2].replace(" ", "") == "****"
    assert x_text.split() == ["1", "epoch", "4"]


@pytest.mark.parametrize("n,width", [(100, 100), (5000, 40)])
def test_points_keep_their_epochs(n, width):
    # a shorter series, and one with gaps (missing and non-finite values), are drawn at
    # their own epochs' columns
    lines = ascii_chart({"train": [4.0 + (i % 3) / 2 for i in range(n)],
                         "validation": [9.0] * (n // 2),
                         "test": [None] * (n // 2) + [-1.0] * (n // 2 - 1) + [math.nan]},
                        height=5, width=width)
    labels, bodies, _, cols = parts(lines, height=5)
    assert cols == width
    half = next(c for c in range(cols) if round(c * (n - 1) / (cols - 1)) >= n // 2)
    top, bottom = bodies[0], bodies[-1]
    assert set(top[:half]) == {"o"} and not top[half:].strip()
    assert not bottom[:half].strip() and set(bottom[half:cols - 1]) == {"+"}
    assert bottom[cols - 1] == " "


@pytest.mark.parametrize("epochs", ["2", "3"])
def test_train_chart_of_a_short_run(tmp_path, epochs):
    data = tmp_path / "blobs.csv"
    runner = CliRunner(env={"COLUMNS": "100"})
    assert runner.invoke(cli, ["datasets", "blobs", "--rows", "120", "-o",
                               str(data)]).exit_code == 0
    r = runner.invoke(cli, ["train", str(data), "--epochs", epochs, "--hidden", "4",
                            "--no-early-stopping", "-o", str(tmp_path / "m.ncm")])
    assert r.exit_code == 0, r.stderr
    lines = r.stdout.splitlines()
    at = lines.index("Loss per epoch") + 1
    labels, bodies, x_text, _ = parts(lines[at:])
    assert x_text.split() == ["1", "epoch", epochs], x_text
    assert "1epoch" not in r.stdout
    assert bodies[0].strip() and bodies[-1].strip()
    assert math.isfinite(float(labels[0])) and math.isfinite(float(labels[-1]))
