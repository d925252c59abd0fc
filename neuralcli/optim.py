"""The optimizer table: each name with its class, which holds its code in the C core,
its defaults (the constructor's) and the learning rates it usually trains at. Each
optimizer keeps state buffers that mirror the flat parameter buffer, so a step is one
fused C kernel call over every parameter of the network."""
import numpy as np

from neuralcli import _kernels
from neuralcli._kernels import nc_optim_kind


class Optimizer:
    name = ""
    code = None                # enum nc_optim_kind of the compiled runs' step
    usual_lr = (1e-4, 1e-2)    # the learning rates it usually trains at, for advice
    slots = 0                  # state buffers per parameter

    def __init__(self, n_params, dtype, *, weight_decay=0.0):
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = float(weight_decay)
        self.t = 0
        self.state = [np.zeros(n_params, dtype=dtype) for _ in range(self.slots)]

    def step(self, params, grads, lr, grad_scale=1.0):
        self.t += 1
        self._step(params, grads, float(lr), float(grad_scale))

    def hyperparameters(self):
        return {"weight_decay": self.weight_decay}

    def compiled(self):
        """The optimizer as the compiled training runs take it: (kind code, momentum,
        beta1, beta2, eps, alpha, weight decay, nesterov, decoupled, state0, state1,
        step counter), or None when they cannot run it."""
        return None


class SGD(Optimizer):
    """SGD with optional (Nesterov) momentum and L2 weight decay, as torch.optim.SGD."""
    name = "sgd"
    code = nc_optim_kind.NC_OPT_SGD
    usual_lr = (1e-3, 0.1)

    def __init__(self, n_params, dtype, *, momentum=0.0, nesterov=False, weight_decay=0.0):
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if nesterov and momentum == 0:
            raise ValueError("Nesterov momentum needs momentum > 0")
        self.slots = 1 if momentum > 0 else 0
        super().__init__(n_params, dtype, weight_decay=weight_decay)
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _step(self, params, grads, lr, scale):
        v = self.state[0] if self.state else None
        _kernels.sgd(params, v, grads, lr, self.momentum, self.weight_decay, self.nesterov,
                     scale)

    def compiled(self):
        v = self.state[0] if self.state else None
        return (self.code, self.momentum, 0.0, 0.0, 0.0, 0.0,
                self.weight_decay, self.nesterov, False, v, None, self.t)

    def hyperparameters(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov,
                **super().hyperparameters()}


class Adam(Optimizer):
    """Adam with L2 weight decay added to the gradient, as torch.optim.Adam."""
    name = "adam"
    code = nc_optim_kind.NC_OPT_ADAM
    slots = 2
    decoupled = False

    def __init__(self, n_params, dtype, *, beta1=0.9, beta2=0.999, eps=1e-8,
                 weight_decay=0.0):
        for label, b in (("beta1", beta1), ("beta2", beta2)):
            if not 0 <= b < 1:
                raise ValueError(f"{label} must lie in [0, 1), got {b}")
        if eps <= 0:
            raise ValueError(f"epsilon must be > 0, got {eps}")
        super().__init__(n_params, dtype, weight_decay=weight_decay)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def _step(self, params, grads, lr, scale):
        m, v = self.state
        _kernels.adam(params, m, v, grads, lr, self.beta1, self.beta2, self.eps,
                      self.weight_decay, self.t, self.decoupled, scale)

    def compiled(self):
        m, v = self.state
        return (self.code, 0.0, self.beta1, self.beta2, self.eps, 0.0,
                self.weight_decay, False, self.decoupled, m, v, self.t)

    def hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps,
                **super().hyperparameters()}


class AdamW(Adam):
    """Adam with decoupled weight decay (p *= 1 - lr*wd), as torch.optim.AdamW."""
    name = "adamw"
    decoupled = True

    def __init__(self, n_params, dtype, *, weight_decay=0.01, **kw):
        super().__init__(n_params, dtype, weight_decay=weight_decay, **kw)


class RMSprop(Optimizer):
    """RMSprop with optional momentum, as torch.optim.RMSprop."""
    name = "rmsprop"
    code = nc_optim_kind.NC_OPT_RMSPROP

    def __init__(self, n_params, dtype, *, alpha=0.99, eps=1e-8, momentum=0.0,
                 weight_decay=0.0):
        if not 0 <= alpha < 1:
            raise ValueError(f"alpha must lie in [0, 1), got {alpha}")
        if not 0 <= momentum < 1:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        self.slots = 2 if momentum > 0 else 1
        super().__init__(n_params, dtype, weight_decay=weight_decay)
        self.alpha, self.eps, self.momentum = float(alpha), float(eps), float(momentum)

    def _step(self, params, grads, lr, scale):
        buf = self.state[1] if self.momentum > 0 else None
        _kernels.rmsprop(params, self.state[0], buf, grads, lr, self.alpha, self.eps,
                         self.weight_decay, self.momentum, scale)

    def compiled(self):
        buf = self.state[1] if self.momentum > 0 else None
        return (self.code, self.momentum, 0.0, 0.0, self.eps,
                self.alpha, self.weight_decay, False, False, self.state[0], buf, self.t)

    def hyperparameters(self):
        return {"alpha": self.alpha, "eps": self.eps, "momentum": self.momentum,
                **super().hyperparameters()}


OPTIMIZERS = {cls.name: cls for cls in (SGD, Adam, AdamW, RMSprop)}


def make_optimizer(name, n_params, dtype, **kw):
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[name](n_params, dtype, **kw)
