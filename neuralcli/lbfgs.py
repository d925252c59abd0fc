"""Full-batch L-BFGS: the whole network's loss and gradient over all rows, from the same
forward, loss and backward kernels that train by steps, minimized by scipy's L-BFGS-B
(the minimizer scikit-learn's lbfgs solver runs). scipy is needed only here, and is
imported only when this solver runs."""
import math
from dataclasses import dataclass, field

import numpy as np

from neuralcli import _kernels, losses
from neuralcli.losses import LOSSES, loss_name
from neuralcli.network import MLP
from neuralcli.training import TrainingError


@dataclass
class LbfgsResult:
    loss: float                     # the objective at the end (loss and L2 term)
    n_iter: int                     # L-BFGS iterations
    n_fun: int                      # objective evaluations
    converged: bool
    status: int                     # scipy's: 0 converged, 1 a limit reached, 2 stalled
    message: str
    history: list = field(default_factory=list)   # the objective after each iteration


def _minimize():
    try:
        from scipy.optimize import minimize
    except ImportError:
        raise TrainingError("the lbfgs solver needs scipy, which is not installed: "
                            "pip install \"neuralcli[lbfgs]\" (or scipy)") from None
    return minimize


def objective(model, loss, X, y, sample_weight=None, *, l2=0.0, loss_scale=1.0):
    """f(theta) -> (value, gradient) in float64 for a parameter vector theta: the
    weighted mean loss over all rows times loss_scale, plus l2 / (2 * W) * |weights|^2
    where W is the rows' total weight (scikit-learn's alpha term; biases are not
    penalized). It leaves theta in model.params."""
    if not model.trainable:
        raise TrainingError("this network has a step activation, which has no gradient "
                            "and cannot be trained")
    if any(model.dropout):
        raise TrainingError("lbfgs minimizes the whole network's loss, which dropout "
                            "makes random; use a stochastic solver for dropout")
    loss = loss_name(loss)
    spec = LOSSES[loss]
    labels = spec.targets == "labels"
    x, codes = model._as_input(X)
    y = np.ascontiguousarray(y, dtype=np.int32 if labels else model.dtype)
    if not labels and y.ndim == 1:
        y = y.reshape(-1, 1)
    sw = None if sample_weight is None else \
        np.ascontiguousarray(sample_weight, dtype=model.dtype)
    n = x.shape[0]
    total = float(n if sample_weight is None else np.sum(sample_weight, dtype=np.float64))
    work, out, dout = model.buffers(n)
    grads = np.empty_like(model.params)
    s = float(loss_scale)
    # backward adds l2' * W to the weights' gradient before the scale s multiplies it
    l2_back = l2 / (total * s) if l2 else 0.0

    def f(theta):
        model.params[...] = theta
        model.forward_into(out, work, x, codes)
        value = losses.evaluate(loss, out, y, sw, dout)
        model.backward_into(grads, work, dout, x, out, codes, l2=l2_back)
        value = s * float(value)
        if l2:
            value += 0.5 * l2 / total * sum(_kernels.sum_squares(w.reshape(-1))
                                            for w in model.weights)
        return value, s * grads.astype(np.float64)

    return f


def fit_lbfgs(model, loss, X, y, sample_weight=None, *, l2=0.0, loss_scale=1.0,
              max_iter=200, max_fun=15000, tol=1e-4):
    """Minimize the objective above from the model's weights, which end at the minimizer's
    result (the last accepted point on Ctrl-C, which is raised again). The minimization
    runs in float64 whatever the model's dtype: the line search compares losses that
    differ in their last digits, which float32 sums blur into stalls; the result is then
    stored in the model's dtype."""
    minimize = _minimize()
    net = model
    if model.dtype != np.float64:
        net = MLP(model.sizes, model.activations, dropout=model.dropout, dtype=np.float64,
                  act_params=model.act_params, init=False, n_dense=model.n_dense)
        net.params[...] = model.params
    try:
        return _run(minimize, net, loss, X, y, sample_weight, l2, loss_scale, max_iter,
                    max_fun, tol)
    finally:
        if net is not model:
            model.params[...] = net.params


def _run(minimize, model, loss, X, y, sample_weight, l2, loss_scale, max_iter, max_fun,
         tol):
    f = objective(model, loss, X, y, sample_weight, l2=l2, loss_scale=loss_scale)
    last = {}
    history = []

    def tracked(theta):
        value, grad = f(theta)
        last["theta"], last["value"] = theta.copy(), value
        return value, grad

    def on_iteration(theta):
        if not np.array_equal(theta, last.get("theta")):
            tracked(theta)
        history.append(last["value"])
        last["accepted"] = theta.copy()

    theta0 = model.params.astype(np.float64)
    try:
        res = minimize(tracked, theta0, method="L-BFGS-B", jac=True, callback=on_iteration,
                       options={"maxiter": int(max_iter), "maxfun": int(max_fun),
                                "gtol": float(tol)})
    except KeyboardInterrupt:
        model.params[...] = last.get("accepted", theta0)
        raise
    model.params[...] = res.x
    message = res.message.decode() if isinstance(res.message, bytes) else str(res.message)
    return LbfgsResult(loss=float(res.fun) if math.isfinite(res.fun) else math.inf,
                       n_iter=int(res.nit), n_fun=int(res.nfev), converged=res.status == 0,
                       status=int(res.status), message=message, history=history)
