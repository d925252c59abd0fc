"""Attributions: permutation importance over a data set, and integrated gradients of one
row through the engine's own backward kernels."""
import numpy as np
import pytest

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
