"""The optimizer table of the model layer: names, codes, defaults, the hyperparameters a
model file records, range checks at their boundaries, and the state buffers each keeps;
the names and codes of the loss and activation tables. Their arithmetic over many steps
is checked against the oracle in test_training_oracle.py."""
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


def test_rows_take_their_codes_from_the_c_enums():
    """Each table's codes are the C core's enum values, one row per value."""
    from neuralcli._kernels import nc_act, nc_loss, nc_optim_kind, nc_task
    from neuralcli.activations import ACTIVATIONS
    from neuralcli.losses import LOSSES
    from neuralcli.training import TASK_CODES
    assert sorted(a.code for a in ACTIVATIONS.values()) == \
        [c for c in nc_act if c != nc_act.NC_ACT_COUNT]
    assert sorted(spec.code for spec in LOSSES.values()) == list(nc_loss)
    assert sorted(TASK_CODES.values()) == list(nc_task)
    # adamw is adam's kernel with decoupled decay
    assert {name: cls.code for name, cls in OPTIMIZERS.items()} == {
        "sgd": nc_optim_kind.NC_OPT_SGD, "adam": nc_optim_kind.NC_OPT_ADAM,
        "adamw": nc_optim_kind.NC_OPT_ADAM, "rmsprop": nc_optim_kind.NC_OPT_RMSPROP}
    for name, cls in OPTIMIZERS.items():
        opt = make_optimizer(name, 3, np.float64)
        assert opt.compiled()[0] == cls.code
        low, high = cls.usual_lr
        assert 0 < low < high


def test_activation_names_and_their_aliases():
    from neuralcli.activations import ACTIVATIONS, ALIASES, activation_name
    for name in ACTIVATIONS:
        assert activation_name(name) == name
    for alias, name in ALIASES.items():
        assert activation_name(alias) == name
    assert activation_name("logistic") == "sigmoid"    # scikit-learn's name
    with pytest.raises(ValueError, match="^unknown activation 'mish'; choose from .* "
                                         r"\(or 'logistic'\)"):
        activation_name("mish")
