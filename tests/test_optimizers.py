"""The optimizer table of the model layer: names, defaults, the hyperparameters a model
file records, range checks at their boundaries, and the state buffers each keeps. Their
arithmetic over many steps is checked against the oracle in test_training_oracle.py."""
import numpy as np
import pytest

from neuralcli.optim import OPTIMIZERS, SGD, Adam, AdamW, RMSprop, make_optimizer


def test_table_names():
    assert OPTIMIZERS == {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}
    with pytest.raises(ValueError, match="unknown optimizer 'lamb'; choose from sgd, adam, "
                                         "adamw, rmsprop"):
        make_optimizer("lamb", 3, np.float32)


@pytest.mark.parametrize("name,kw,want,slots", [
    ("sgd", {}, {"momentum": 0.0, "nesterov": False, "weight_decay": 0.0}, 0),
    ("sgd", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01},
     {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, 1),
    ("adam", {}, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.0}, 2),
    ("adam", {"beta1": 0.5, "beta2": 0.75, "eps": 1e-3, "weight_decay": 0.25},
     {"beta1": 0.5, "beta2": 0.75, "eps": 1e-3, "weight_decay": 0.25}, 2),
    ("adamw", {}, {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01}, 2),
    ("adamw", {"beta1": 0.5, "eps": 1e-4}, {"beta1": 0.5, "beta2": 0.999, "eps": 1e-4,
                                            "weight_decay": 0.01}, 2),
    ("rmsprop", {}, {"alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0}, 1),
    ("rmsprop", {"alpha": 0.5, "eps": 1e-6, "momentum": 0.25, "weight_decay": 0.125},
     {"alpha": 0.5, "eps": 1e-6, "momentum": 0.25, "weight_decay": 0.125}, 2),
])
def test_hyperparameters_defaults_and_state(name, kw, want, slots):
    opt = make_optimizer(name, 5, np.float64, **kw)
    assert opt.name == name
    got = opt.hyperparameters()
    assert got == want and [type(v) for v in got.values()] == [type(v) for v in want.values()]
    assert len(opt.state) == slots and opt.t == 0
    for buf in opt.state:
        assert buf.shape == (5,) and buf.dtype == np.float64 and not buf.any()
    opt.step(np.zeros(5), np.ones(5), 0.1)
    assert opt.t == 1


@pytest.mark.parametrize("name,kw,message", [
    ("sgd", {"momentum": 1.0}, "momentum must lie in \\[0, 1\\), got 1.0"),
    ("sgd", {"momentum": -0.1}, "momentum must lie in"),
    ("sgd", {"nesterov": True}, "Nesterov momentum needs momentum > 0"),
    ("sgd", {"weight_decay": -1e-9}, "weight_decay must be >= 0, got -1e-09"),
    ("adam", {"beta1": 1.0}, "beta1 must lie in \\[0, 1\\), got 1.0"),
    ("adam", {"beta2": 1.0}, "beta2 must lie in \\[0, 1\\), got 1.0"),
    ("adam", {"beta1": -0.5}, "beta1 must lie in"),
    ("adam", {"eps": 0.0}, "epsilon must be > 0, got 0.0"),
    ("adamw", {"beta2": 1.5}, "beta2 must lie in"),
    ("rmsprop", {"alpha": 1.0}, "alpha must lie in \\[0, 1\\), got 1.0"),
    ("rmsprop", {"alpha": -0.1}, "alpha must lie in"),
    ("rmsprop", {"momentum": 1.0}, "momentum must lie in \\[0, 1\\), got 1.0"),
    ("rmsprop", {"momentum": -0.1}, "momentum must lie in"),
])
def test_out_of_range_options_are_refused(name, kw, message):
    with pytest.raises(ValueError, match=message):
        make_optimizer(name, 3, np.float32, **kw)


@pytest.mark.parametrize("name,kw", [
    ("sgd", {"momentum": 0.0, "weight_decay": 0.0}), ("adam", {"beta1": 0.0, "beta2": 0.0}),
    ("rmsprop", {"alpha": 0.0, "momentum": 0.0}), ("adam", {"eps": 1e-30})])
def test_range_boundaries_are_accepted(name, kw):
    opt = make_optimizer(name, 3, np.float32, **kw)
    for k, v in kw.items():
        assert getattr(opt, k if k != "eps" else "eps") == v


def test_loss_names_and_their_aliases():
    from neuralcli.losses import ALIASES, LOSSES, loss_name
    for name in LOSSES:
        assert loss_name(name) == name
    for alias, name in ALIASES.items():
        assert loss_name(alias) == name
    with pytest.raises(ValueError, match="^unknown loss 'hinge'; choose from "):
        loss_name("hinge")
