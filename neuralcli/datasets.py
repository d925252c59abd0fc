"""Built-in data sets, generated from a seed: each returns (X, y, feature_names,
target_name) with X float64 (N, C) and y of labels or values."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Dataset:
    name: str
    task: str
    description: str
    make: object


def spirals(n=500, noise=0.2, seed=0):
    """Two interleaved spirals: theta = linspace(0, 4*pi) + noise, r = theta / (4*pi),
    the second spiral turned by pi. n points in all, half per class."""
    rng = np.random.default_rng(seed)
    half = n // 2
    sizes = (half, n - half)
    xs, ys = [], []
    for label, m in enumerate(sizes):
        theta = np.linspace(0, 4 * np.pi, m) + rng.normal(0, noise, m)
        r = theta / (4 * np.pi)
        angle = theta + np.pi * label
        xs.append(np.column_stack([r * np.cos(angle), r * np.sin(angle)]))
        ys.append(np.full(m, label))
    return np.vstack(xs), np.concatenate(ys), ["x", "y"], "spiral"


def xor(n=200, noise=0.1, seed=0):
    """The four corners of the unit square, jittered; the label is x1 XOR x2."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, size=(n, 2))
    X = bits + rng.normal(0, noise, size=(n, 2))
    return X, bits[:, 0] ^ bits[:, 1], ["x1", "x2"], "xor"


def moons(n=400, noise=0.1, seed=0):
    """Two interleaving half circles."""
    rng = np.random.default_rng(seed)
    a = n // 2
    t1, t2 = np.linspace(0, np.pi, a), np.linspace(0, np.pi, n - a)
    X = np.vstack([np.column_stack([np.cos(t1), np.sin(t1)]),
                   np.column_stack([1 - np.cos(t2), 0.5 - np.sin(t2)])])
    X += rng.normal(0, noise, X.shape)
    return X, np.r_[np.zeros(a, int), np.ones(n - a, int)], ["x", "y"], "moon"


def circles(n=400, noise=0.05, factor=0.5, seed=0):
    """A small circle inside a large one."""
    rng = np.random.default_rng(seed)
    a = n // 2
    t1 = np.linspace(0, 2 * np.pi, a, endpoint=False)
    t2 = np.linspace(0, 2 * np.pi, n - a, endpoint=False)
    X = np.vstack([np.column_stack([np.cos(t1), np.sin(t1)]),
                   factor * np.column_stack([np.cos(t2), np.sin(t2)])])
    X += rng.normal(0, noise, X.shape)
    return X, np.r_[np.zeros(a, int), np.ones(n - a, int)], ["x", "y"], "inner"


def blobs(n=600, classes=4, features=2, spread=1.0, seed=0):
    """Gaussian clusters, one per class, with centres drawn in a box."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(-8, 8, size=(classes, features))
    y = np.arange(n) % classes
    X = centres[y] + rng.normal(0, spread, size=(n, features))
    names = [f"x{i + 1}" for i in range(features)]
    return X, np.array(["abcdefghijklmnopqrstuvwxyz"[c] for c in y]), names, "cluster"


def loan(n=1000, seed=0):
    """Loan applications: income, credit score, years employed and existing debt, mapped
    to approved (1) or declined (0) by a noisy rule a loan officer might use."""
    rng = np.random.default_rng(seed)
    income = np.round(rng.lognormal(np.log(55000), 0.45, n), -2)
    score = np.clip(np.round(rng.normal(680, 70, n)), 300, 850)
    years = np.clip(np.round(rng.gamma(2.0, 3.0, n)), 0, 40)
    debt = np.round(rng.uniform(0, 0.6, n) * income, -2)
    z = (0.00001 * income + 0.01 * score + 0.1 * years - 0.00005 * debt - 7.5
         + rng.normal(0, 0.5, n))
    X = np.column_stack([income, score, years, debt])
    return X, (z > 0).astype(int), ["income", "credit_score", "years_employed",
                                     "existing_debt"], "approved"


def regression(n=800, noise=0.1, seed=0):
    """A smooth non-linear target of five features (Friedman's first function)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0, 1, size=(n, 5))
    y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2
         + 10 * X[:, 3] + 5 * X[:, 4] + rng.normal(0, noise, n))
    return X, y, [f"x{i + 1}" for i in range(5)], "y"


DATASETS = {d.name: d for d in (
    Dataset("spirals", "binary", "two interleaved spirals, 500 points (the default)", spirals),
    Dataset("xor", "binary", "exclusive-or of two noisy bits", xor),
    Dataset("moons", "binary", "two interleaving half circles", moons),
    Dataset("circles", "binary", "a circle inside a circle", circles),
    Dataset("blobs", "multiclass", "four Gaussian clusters with letter labels", blobs),
    Dataset("loan", "binary", "income, credit score, years employed, debt -> approved", loan),
    Dataset("regression", "regression", "Friedman's non-linear function of 5 features",
            regression),
)}


def load(name, **kw):
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    return DATASETS[name].make(**kw)
