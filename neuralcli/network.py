"""A sequential MLP whose parameters live in one flat buffer, run by the C core."""
from typing import NamedTuple, Optional

import numpy as np

from neuralcli import _kernels
# the activation table, which the model files and callers also import from here
from neuralcli.activations import (ACTIVATIONS, ALIASES, Activation,  # noqa: F401
                                   activation_name)
from neuralcli.kernels import workspace
from neuralcli.losses import LOSSES

DTYPES = {"float32": np.float32, "float64": np.float64}


class Encoded(NamedTuple):
    """Model inputs whose categorical part is never expanded to one-hot floats.

    dense: (N, n_dense) floats, the inputs that feed the first n_dense rows of the first
    layer's weights; codes: (N, n_cat) int32 or None, for each categorical column the
    absolute row of the first layer's weights that its category selects (a row in
    [n_dense, sizes[0])), or -1 for none. The first layer computes
    z = dense @ W[:n_dense] + sum over c of W[codes[:, c]] + b, which is the dense product
    with the one-hot expansion, without ever writing the zeros."""
    dense: np.ndarray
    codes: Optional[np.ndarray] = None

    def __len__(self):
        return self.dense.shape[0]

    def take(self, idx):
        return Encoded(self.dense[idx], None if self.codes is None else self.codes[idx])

    def to_dense(self, n_features):
        """The one-hot expansion, for a few rows (a trace) or a reference in tests."""
        n, d = self.dense.shape
        out = np.zeros((n, n_features), dtype=self.dense.dtype)
        out[:, :d] = self.dense
        if self.codes is not None:
            rows, cols = np.nonzero(self.codes >= 0)
            out[rows, self.codes[rows, cols]] = 1
        return out


def resolve_dtype(dtype):
    key = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    if key not in DTYPES:
        raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
    return np.dtype(DTYPES[key])


def layer_slices(sizes):
    """Where each layer's parameters sit in the flat buffer: a (weights, biases) pair of
    slices per layer, W (fan_in, fan_out) row-major and then b (fan_out,), layer after
    layer. Every reader of the buffer's layout takes it from here."""
    slices, start = [], 0
    for c, oc in zip(sizes[:-1], sizes[1:]):
        w = slice(start, start + c * oc)
        b = slice(w.stop, w.stop + oc)
        slices.append((w, b))
        start = b.stop
    return slices


def n_params(sizes):
    """The length of the flat parameter buffer of a network of these layer sizes."""
    slices = layer_slices(sizes)
    return slices[-1][1].stop if slices else 0


class MLP:
    """Dense layers sizes[0] -> sizes[1] -> ... -> sizes[-1], one activation per layer.

    `params` is the one contiguous buffer: layer by layer, W (fan_in, fan_out) row-major
    then b (fan_out,). `weights[l]` and `biases[l]` are views into it, so writing through
    them changes the network, and a gradient or optimizer state of the same length
    mirrors it exactly.

    `n_dense` (default sizes[0]) splits the first layer's inputs: the first n_dense are
    dense floats, the rest one-hot columns of categorical inputs, which an `Encoded` input
    reaches through codes (rows of W_0) without writing the zeros. A plain array holds
    all sizes[0] inputs, the one-hot columns included.
    """

    def __init__(self, sizes, activations, *, dropout=None, dtype="float32", seed=0,
                 act_params=None, init=True, n_dense=None):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError("a network needs an input size and at least one layer")
        if any(s < 1 for s in sizes):
            raise ValueError(f"every layer needs at least one unit, got {sizes}")
        n_layers = len(sizes) - 1
        if isinstance(activations, str):
            activations = [activations] * n_layers
        activations = [activation_name(a) for a in activations]
        if len(activations) != n_layers:
            raise ValueError(f"{n_layers} layers need {n_layers} activations, "
                             f"got {len(activations)}")
        dropout = [0.0] * n_layers if dropout is None else [float(d) for d in dropout]
        if len(dropout) != n_layers:
            raise ValueError(f"{n_layers} layers need {n_layers} dropout rates")
        if act_params is None:
            act_params = [ACTIVATIONS[a].param for a in activations]
        n_dense = sizes[0] if n_dense is None else int(n_dense)
        if not 0 <= n_dense <= sizes[0]:
            raise ValueError(f"n_dense is {n_dense}; the first layer has {sizes[0]} inputs, "
                             f"so it lies in [0, {sizes[0]}]")
        self.n_dense = n_dense
        self.sizes = sizes
        self.activations = activations
        self.act_params = [float(p) for p in act_params]
        self.dropout = dropout
        self.dtype = resolve_dtype(dtype)
        self._net = _kernels.Net(
            sizes, [ACTIVATIONS[a].code for a in activations], self.act_params,
            dropout, n_dense) if all(ACTIVATIONS[a].trainable for a in activations) else None
        self.n_params = n_params(sizes)
        self.params = np.zeros(self.n_params, dtype=self.dtype)
        self.weights, self.biases = [], []
        for (w, b), c, oc in zip(layer_slices(sizes), sizes[:-1], sizes[1:]):
            self.weights.append(self.params[w].reshape(c, oc))
            self.biases.append(self.params[b])
        self._cache = {}
        if init:
            self.initialize(seed)

    # -------------------------------------------------------------- construction

    @property
    def n_layers(self):
        return len(self.sizes) - 1

    def initialize(self, seed=0):
        """He-normal for the relu family, Glorot-uniform otherwise; biases zero (the
        command line's scheme, which init_description puts in words)."""
        rng = np.random.default_rng(seed)
        for w, b, act in zip(self.weights, self.biases, self.activations):
            fan_in, fan_out = w.shape
            if ACTIVATIONS[act].init == "he":
                w[...] = rng.standard_normal(w.shape) * np.sqrt(2.0 / fan_in)
            else:
                bound = np.sqrt(6.0 / (fan_in + fan_out))
                w[...] = rng.uniform(-bound, bound, w.shape)
            b[...] = 0

    def initialize_uniform(self, seed, factor=6.0):
        """scikit-learn's scheme: each layer's weights, then its biases, uniform in
        +-sqrt(factor / (fan_in + fan_out)), drawn from a legacy RandomState(seed) in that
        order, so that an integer seed gives the starting weights scikit-learn's MLPs
        draw from the same random_state. scikit-learn takes factor 2 for a logistic hidden
        activation and 6 otherwise, on every layer."""
        rng = np.random.RandomState(seed)
        for w, b in zip(self.weights, self.biases):
            fan_in, fan_out = w.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            w[...] = rng.uniform(-bound, bound, w.shape)
            b[...] = rng.uniform(-bound, bound, fan_out)

    @classmethod
    def from_weights(cls, weights, biases, activations, *, dtype=None, dropout=None,
                     act_params=None, n_dense=None):
        """A network with given weights (fan_in, fan_out) and biases (fan_out,)."""
        weights = [np.asarray(w) for w in weights]
        biases = [np.asarray(b) for b in biases]
        if len(weights) != len(biases) or not weights:
            raise ValueError("give one weight matrix and one bias vector per layer")
        sizes = [weights[0].shape[0]]
        for i, (w, b) in enumerate(zip(weights, biases)):
            if w.ndim != 2 or w.shape[0] != sizes[-1]:
                raise ValueError(f"layer {i}: weight shape {w.shape} does not take "
                                 f"{sizes[-1]} inputs")
            if b.shape != (w.shape[1],):
                raise ValueError(f"layer {i}: bias shape {b.shape}, expected ({w.shape[1]},)")
            sizes.append(w.shape[1])
        if dtype is None:
            dtype = np.float64 if weights[0].dtype == np.float64 else np.float32
        net = cls(sizes, activations, dropout=dropout, dtype=dtype, act_params=act_params,
                  init=False, n_dense=n_dense)
        for dst, src in zip(net.weights + net.biases, weights + biases):
            dst[...] = src
        return net

    def copy(self):
        net = MLP(self.sizes, self.activations, dropout=self.dropout, dtype=self.dtype,
                  act_params=self.act_params, init=False, n_dense=self.n_dense)
        net.params[...] = self.params
        return net

    def __getstate__(self):
        # rebuild the C description and the views on unpickling; buffers are remade on use
        return {"sizes": self.sizes, "activations": self.activations,
                "act_params": self.act_params, "dropout": self.dropout,
                "dtype": self.dtype.name, "params": self.params, "n_dense": self.n_dense}

    def __setstate__(self, state):
        # pickles made before n_dense existed hold dense inputs only
        self.__init__(state["sizes"], state["activations"], dropout=state["dropout"],
                      dtype=state["dtype"], act_params=state["act_params"], init=False,
                      n_dense=state.get("n_dense"))
        self.params[...] = state["params"]

    # -------------------------------------------------------------- buffers

    def workspace_bytes(self, n, *, fused=False):
        """Bytes of workspace for n rows at the current thread count: forward and backward
        (buffers), or the fused small-network step (small_buffers) when fused."""
        size = self._net.small_workspace if fused else self._net.workspace
        return size(n, _kernels.get_num_threads(), self.dtype == np.float64)

    def buffers(self, n):
        """Workspace, output and output-gradient buffers for batches of n rows, made once
        per batch size and reused, so training allocates nothing per step."""
        buf = self._cache.get(n)
        if buf is None:
            if len(self._cache) > 8:
                self._cache.clear()
            k = self.sizes[-1]
            buf = (workspace(self.workspace_bytes(n)), np.empty((n, k), self.dtype),
                   np.empty((n, k), self.dtype))
            self._cache[n] = buf
        return buf

    def small_buffers(self, n):
        """Workspace and output buffers of the fused small-network step for n rows."""
        key = ("small", n)
        buf = self._cache.get(key)
        if buf is None:
            buf = (workspace(self.workspace_bytes(n, fused=True)),
                   np.empty((n, self.sizes[-1]), self.dtype))
            self._cache[key] = buf
        return buf

    @property
    def trainable(self):
        """False when an activation has no derivative (step): the network runs forward
        only, one dense kernel per layer."""
        return self._net is not None

    @property
    def fused(self):
        """True when training steps run through the fused small-network kernel."""
        return self._net is not None and self._net.small(self.dtype == np.float64)

    def _as_input(self, x):
        """(dense, codes) as the kernels take them: an array holds every input (codes
        None); an Encoded holds the n_dense dense ones and int32 codes (n, n_cat)."""
        if isinstance(x, Encoded):
            dense = np.asarray(x.dense)
            if dense.ndim != 2 or dense.shape[1] != self.n_dense:
                raise ValueError(f"Encoded.dense has shape {dense.shape}, the network takes "
                                 f"(n, {self.n_dense}) dense inputs")
            if x.codes is None:
                codes = np.zeros((dense.shape[0], 0), np.int32)
            else:
                codes = np.asarray(x.codes)
                if codes.dtype.kind not in "iu" or codes.ndim != 2 or \
                        codes.shape[0] != dense.shape[0]:
                    raise ValueError(f"Encoded.codes has shape {codes.shape} and dtype "
                                     f"{codes.dtype}; expected integers of shape "
                                     f"({dense.shape[0]}, n_cat)")
                codes = np.ascontiguousarray(codes, dtype=np.int32)
            return np.ascontiguousarray(dense, dtype=self.dtype), codes
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"input has shape {x.shape}, the network takes "
                             f"(n, {self.sizes[0]})")
        return np.ascontiguousarray(x, dtype=self.dtype), None

    # -------------------------------------------------------------- passes

    def forward(self, x, *, batch_size=8192):
        """The network's output for x, an array or an Encoded (eval mode: no dropout), as a
        new array."""
        x, codes = self._as_input(x)
        if self._net is None:
            if codes is not None:
                x = Encoded(x, codes).to_dense(self.sizes[0])
            return self._forward_layers(x)[-1]
        out = np.empty((x.shape[0], self.sizes[-1]), self.dtype)
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size]
            cb = None if codes is None else codes[i:i + batch_size]
            work, ob, _ = self.buffers(xb.shape[0])
            self.forward_into(ob, work, xb, cb)
            out[i:i + xb.shape[0]] = ob
        return out

    def _forward_layers(self, x):
        """Every layer's output in eval mode, one dense kernel call each (for nets that
        cannot be trained, such as a perceptron with a step activation, and for traces)."""
        from neuralcli import kernels
        outs = []
        h = x
        for w, b, act, p in zip(self.weights, self.biases, self.activations, self.act_params):
            h = kernels.dense_forward(h, w, b, act, param=p)
            outs.append(h)
        return outs

    def gradient(self, x, dout_fn, *, grads=None, train=False, seed=0, step=1):
        """Run forward, let dout_fn(out, dout) fill d(loss)/d(out) and return the loss,
        then backward. x is an array or an Encoded. Returns (loss, grads). Used by tests
        and traces; the training loop calls the same kernels with its own buffers."""
        x, codes = self._as_input(x)
        work, out, dout = self.buffers(x.shape[0])
        self.forward_into(out, work, x, codes, train=train, seed=seed, step=step)
        loss = dout_fn(out, dout)
        if grads is None:
            grads = np.empty_like(self.params)
        self.backward_into(grads, work, dout, x, out, codes, seed=seed, step=step)
        return loss, grads

    def input_gradient(self, x, dout_fn):
        """Forward on the rows x (a dense array of all sizes[0] inputs), let dout_fn(out,
        dout) fill d(f)/d(out) for a function f of each row's output, then the backward
        kernels' dX: returns (out, d(f)/d(x)) as new (n, sizes[0]) arrays. The same
        forward and backward passes as training (eval mode), the gradient carried down to
        the inputs."""
        x, codes = self._as_input(x)
        if codes is not None or self.n_dense != self.sizes[0]:
            raise ValueError("input_gradient takes dense inputs on a network whose first "
                             "layer has no categorical rows (n_dense == sizes[0])")
        work, out, dout = self.buffers(x.shape[0])
        self.forward_into(out, work, x)
        dout_fn(out, dout)
        dx = np.empty_like(x)
        self._net.backward(np.empty_like(self.params), dx, work, dout, x, out, self.params,
                           0, 0, 0.0, None)
        return out.copy(), dx

    # -------------------------------------------------------------- kernels on given buffers
    # For a loop that owns its buffers (buffers(n), small_buffers(n) or its own of
    # workspace_bytes(n)) and its inputs as the kernels take them (see _as_input): dense
    # rows x (n, sizes[0]), or (n, n_dense) beside int32 codes (n, n_cat), in the
    # network's dtype, C-contiguous. The shapes are checked; nothing is copied.

    def forward_into(self, out, work, x, codes=None, *, train=False, seed=0, step=0):
        """out (n, sizes[-1]) = the network on x and codes, keeping in work what
        backward_into needs. train: dropout on, its masks keyed by (seed, step)."""
        self._net.forward(out, work, x, self.params, train, seed, step, codes)

    def backward_into(self, grads, work, dout, x, out, codes=None, *, seed=0, step=0,
                      l2=0.0):
        """grads (n_params,) of the last forward_into on x and codes (with its work, out,
        seed and step) given dout = d(loss)/d(out); l2 adds l2 * W to the weights'
        gradients, not the biases'."""
        self._net.backward(grads, None, work, dout, x, out, self.params, seed, step, l2,
                           codes)

    def fused_step(self, grads, out, work, x, t, labels, sw, loss, *, l2=0.0, codes=None,
                   diag=None):
        """Forward, loss and backward of a fused network (see fused) in one kernel, with
        the work of small_buffers; returns the mean loss. loss is a name of
        losses.LOSSES: t holds its targets (n, sizes[-1]), or labels (n,) int32 those of
        cross_entropy; sw the row weights (n,) or None, class weights folded in. diag
        (from diagnostics) receives the hidden activations' counts."""
        return self._net.step_small(grads, out, work, x, t, labels, sw, self.params,
                                    LOSSES[loss].code, l2, codes, diag)

    # -------------------------------------------------------------- diagnostics

    def diagnostics(self, every=1):
        """Empty sums of training diagnostics for this network (a
        _kernels.Diagnostics), which the steps given it add to: the gradient and update
        measures on one step in `every`, the activations on every row."""
        return _kernels.Diagnostics(self._net, self.dtype == np.float64, int(every))

    def diag_acts(self, diag, work, n):
        """Add the hidden activations of the last training forward_into of n rows in
        work to diag."""
        self._net.diag_acts(diag, work, n)

    def diag_before(self, diag, grads, m):
        """diag's measures of a step of m rows before its update, the gradient in
        grads."""
        self._net.diag_before(diag, self.params, grads, m)

    def diag_after(self, diag):
        """diag's measures of a step after its update."""
        self._net.diag_after(diag, self.params)

    def train_run(self, grads, out, dout, work, x, codes, t, labels, sw, bufs, cfg,
                  optimizer, batch_rows, diag=None):
        """Compiled training runs (nc_train_batches, without the GIL) over the rows (x,
        codes, t or labels, sw) in batches of batch_rows rows, checked once: a
        _kernels.TrainRun whose run(perm, first, batch, step, loss_sum, correct, end, lr,
        budget, t) trains on batches batch .. end-1 taken in the order perm (None: as they
        are) from position first, until they run out or `budget` seconds pass, and
        returns (batch, step, optimizer t, loss sum, correct, last loss, diverged). bufs
        and cfg are as _kernels.Net.train_run takes them; optimizer is an optim.Optimizer
        whose compiled() state buffers the runs update (its step count t is passed to and
        returned by each run). out, dout and work are for batch_rows rows (dout None for a
        fused run). diag (from diagnostics) receives every step's diagnostics."""
        return self._net.train_run(self.params, grads, out, dout, work, x, codes, t, labels,
                                   sw, bufs, cfg, optimizer.compiled(), batch_rows, diag)

    # -------------------------------------------------------------- description

    def summary(self, optimizer_slots=2, n_cat=None):
        """One row per layer with shapes, parameters and FLOPs, and the totals.

        FLOPs count multiply and add as two: forward 2*C*OC per sample, a training step
        three GEMMs' worth (forward, dX, dW), 6*C*OC, less the dX of the first layer.
        A first layer with categorical rows (n_dense < sizes[0]) counts 2*n_dense*OC for
        its dense part and OC adds per code each way (the gather forward, the scatter
        backward); n_cat is the codes per sample, one per categorical column (None: 1)."""
        rows = []
        item = self.dtype.itemsize
        total_fwd = total_train = 0
        for i, (c, oc, (w, b)) in enumerate(zip(self.sizes[:-1], self.sizes[1:],
                                                 layer_slices(self.sizes))):
            fwd = 2 * c * oc
            train = fwd * (2 if i == 0 else 3)
            row = {}
            if i == 0 and self.n_dense < c:
                codes = 1 if n_cat is None else int(n_cat)
                fwd = 2 * self.n_dense * oc + codes * oc
                train = fwd + 2 * self.n_dense * oc + codes * oc
                row = {"dense_inputs": self.n_dense, "codes": codes}
            total_fwd += fwd
            total_train += train
            rows.append({"layer": i, "kind": "dense", "in": c, "out": oc,
                         "activation": self.activations[i], "dropout": self.dropout[i],
                         "weights": (c, oc), "params": b.stop - w.start,
                         "flops_forward": fwd, "flops_train": train, **row})
        return {
            "layers": rows,
            "params": self.n_params,
            "flops_forward": total_fwd,
            "flops_train": total_train,
            "param_bytes": self.n_params * item,
            "optimizer_bytes": self.n_params * item * optimizer_slots,
            "dtype": self.dtype.name,
        }


def init_description(activations):
    """How initialize() starts a network with these layer activations, in words."""
    he = [i + 1 for i, a in enumerate(activations) if ACTIVATIONS[a].init == "he"]
    glorot = [i + 1 for i, a in enumerate(activations) if ACTIVATIONS[a].init != "he"]

    def layers(ix):
        return ("layer " if len(ix) == 1 else "layers ") + ", ".join(map(str, ix))

    parts = []
    if he:
        parts.append(f"He-normal ({layers(he)})")
    if glorot:
        parts.append(f"Glorot-uniform ({layers(glorot)})")
    return ", ".join(parts) + "; biases zero"
