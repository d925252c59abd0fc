"""Learning-rate schedules, value by value against their definitions: scikit-learn's
invscaling, torch's StepLR, CosineAnnealingLR (with a linear warmup in front) and
ReduceLROnPlateau in relative-threshold mode."""
import math

import pytest

from neuralcli.schedules import SCHEDULES, make_schedule


def lrs(s, n):
    return [s.lr(e) for e in range(n)]


def test_every_schedule_is_registered_under_its_name():
    assert sorted(SCHEDULES) == sorted(["constant", "step", "cosine", "warmup_cosine",
                                        "plateau", "invscaling"])
    for name, cls in SCHEDULES.items():
        assert cls.name == name
    with pytest.raises(ValueError, match="unknown schedule 'nope'; choose from constant"):
        make_schedule("nope", 0.1, 3)


def test_constant():
    s = make_schedule("constant", 0.3, 5)
    assert lrs(s, 6) == [0.3] * 6


@pytest.mark.parametrize("epochs,kw,size", [(12, {}, 4), (2, {}, 1), (7, {"step_size": 3}, 3),
                                             (9, {"step_size": 0}, 3)])
def test_step_decay(epochs, kw, size):
    s = make_schedule("step", 0.2, epochs, gamma=0.5, **kw)
    assert s.step_size == size
    assert lrs(s, epochs) == [0.2 * 0.5 ** (e // size) for e in range(epochs)]


def test_step_decay_default_gamma_is_a_tenth():
    s = make_schedule("step", 1.0, 6, step_size=2)
    assert lrs(s, 6) == [1.0, 1.0, 0.1, 0.1, 1.0 * 0.1 ** 2, 1.0 * 0.1 ** 2]


def _cosine(base, lo, epochs, warmup, e):
    if e < warmup:
        return base * (e + 1) / warmup
    t = min(1.0, (e - warmup) / max(1, epochs - warmup))
    return lo + (base - lo) * (1 + math.cos(math.pi * t)) / 2


@pytest.mark.parametrize("epochs,lo,warmup", [(10, 0.0, 0), (10, 0.01, 0), (8, 0.02, 3),
                                              (1, 0.0, 0), (5, 0.0, 5)])
def test_cosine(epochs, lo, warmup):
    s = make_schedule("cosine", 0.4, epochs, min_lr=lo, warmup=warmup)
    got = lrs(s, epochs + 2)  # past the end it stays at the floor
    want = [_cosine(0.4, lo, epochs, warmup, e) for e in range(epochs + 2)]
    assert got == pytest.approx(want, rel=1e-15, abs=1e-18)
    if warmup < epochs:
        assert got[-1] == pytest.approx(lo, abs=1e-15)


@pytest.mark.parametrize("epochs,warmup", [(100, 5), (10, 1), (30, 2), (50, 2), (1, 1)])
def test_warmup_cosine_defaults_to_five_percent(epochs, warmup):
    s = make_schedule("warmup_cosine", 1.0, epochs)
    assert s.warmup == warmup and s.epochs == epochs and s.min_lr == 0.0
    assert lrs(s, epochs) == pytest.approx([_cosine(1.0, 0.0, epochs, warmup, e)
                                            for e in range(epochs)], rel=1e-15, abs=1e-18)


def test_warmup_cosine_explicit_warmup_and_floor():
    s = make_schedule("warmup_cosine", 2.0, 10, warmup=4, min_lr=0.5)
    assert s.warmup == 4
    assert lrs(s, 10) == pytest.approx([_cosine(2.0, 0.5, 10, 4, e) for e in range(10)],
                                       rel=1e-15)
    assert make_schedule("warmup_cosine", 1.0, 0).epochs == 1


class _TorchPlateau:
    """ReduceLROnPlateau, mode min, threshold_mode rel, cooldown 0, as torch defines it."""

    def __init__(self, lr, patience, factor, min_lr, threshold):
        self.lr, self.patience, self.factor = lr, patience, factor
        self.min_lr, self.threshold = min_lr, threshold
        self.best, self.bad = math.inf, 0

    def step(self, x):
        if x < self.best * (1 - self.threshold):
            self.best, self.bad = x, 0
        else:
            self.bad += 1
        if self.bad > self.patience:
            self.lr = max(self.lr * self.factor, self.min_lr)
            self.bad = 0


@pytest.mark.parametrize("patience,factor,min_lr,threshold", [
    (2, 0.5, 1e-6, 1e-4), (0, 0.1, 0.05, 1e-4), (3, 0.5, 0.0, 0.1), (1, 0.25, 1e-3, 0.0)])
def test_plateau_matches_torchs_rule(patience, factor, min_lr, threshold):
    losses = [1.0, 0.95, 0.9499, 0.9499, 0.96, 0.94, 0.94, 0.94, 0.94, 0.5, 0.5, 0.5,
              0.5, 0.5, 0.5, 0.49999, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]
    s = make_schedule("plateau", 1.0, 100, patience=patience, factor=factor,
                      min_lr=min_lr, threshold=threshold)
    ref = _TorchPlateau(1.0, patience, factor, min_lr, threshold)
    seen = []
    for e, x in enumerate(losses):
        assert s.lr(e) == ref.lr
        s.observe(e, x)
        ref.step(x)
        seen.append(s.lr(e + 1))
    assert len(set(seen)) > 2  # the run did reduce, more than once


def test_plateau_defaults():
    s = make_schedule("plateau", 1.0, 10)
    assert (s.patience, s.factor, s.min_lr, s.threshold) == (5, 0.5, 1e-6, 1e-4)
    for e in range(6):
        s.observe(e, 1.0)
    assert s.lr(6) == 1.0           # one improvement, then five epochs without: patience
    s.observe(6, 1.0)
    assert s.lr(7) == 0.5
    tiny = make_schedule("plateau", 1e-6, 10, patience=0)
    tiny.observe(0, 1.0)
    tiny.observe(1, 1.0)
    assert tiny.lr(2) == 1e-6       # never below min_lr


@pytest.mark.parametrize("power_t,samples", [(0.5, 1), (0.5, 150), (0.25, 7), (1.0, 3)])
def test_invscaling_is_scikit_learns(power_t, samples):
    # sklearn's SGDOptimizer: after each epoch t_ += n_samples and
    # lr = learning_rate_init / (t_ + 1) ** power_t for the next one
    s = make_schedule("invscaling", 0.1, 5, power_t=power_t, samples_per_epoch=samples)
    want, t = [], 0
    for _ in range(5):
        want.append(0.1 / (t + 1) ** power_t)
        t += samples
    assert lrs(s, 5) == want
    d = make_schedule("invscaling", 0.1, 5)
    assert (d.power_t, d.samples) == (0.5, 1)


def test_schedules_take_the_base_rate_and_epochs_as_numbers():
    s = make_schedule("constant", "0.25", 0)
    assert s.base_lr == 0.25 and s.epochs == 1
    s.observe(0, 1.0)  # only plateau listens
    assert s.lr(3) == 0.25
