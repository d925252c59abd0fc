"""Training diagnostics: what the kernels summed over an epoch (a _kernels.Diagnostics)
turned into the per-layer figures each epoch's history entry keeps under "diagnostics",
and the trouble those figures show, in plain words. docs/model-format.md defines every
figure; the thresholds are named below."""
import math

import numpy as np

from neuralcli import _kernels
from neuralcli.activations import ACTIVATIONS

# The gradient and update measures cost a pass over the parameters, which a step of a
# few rows through a narrow network takes a tenth of its time for; they are taken on one
# step in every measure_every(batch rows), about one per MEASURE_ROWS rows trained, and
# on every step of batches of MEASURE_ROWS rows or more. The activation counts take
# every row.
MEASURE_ROWS = 1024

# trouble thresholds, each checked on the last epoch
DEAD_SHARE = 0.5          # at least half a relu-family layer's units never fired
SATURATED_SHARE = 0.5     # at least half a sigmoid or tanh layer's values saturated
VANISHING_RATIO = 1e-3    # a layer's gradient RMS at most this times the output layer's
EXPLODING_RATIO = 1e3     # ... or at least this many times it
UPDATE_RATIO = 0.1        # a step moves a layer's weights by a tenth of their norm

KEYS = ("grad_rms", "weight_norm", "update_ratio", "dead", "saturated")


def measure_every(batch_rows):
    """The steps of an epoch whose gradient and update are measured: one in this many."""
    return max(1, -(-MEASURE_ROWS // max(1, int(batch_rows))))


def _finite(v):
    v = float(v)
    return v if math.isfinite(v) else None


def epoch(model, sums, loss_scale=1.0):
    """The epoch's "diagnostics" entry from the sums of its steps, one value per dense
    layer in each list (None where the figure does not apply or nothing was measured)."""
    sizes, acts = model.sizes, model.activations
    L = len(sizes) - 1
    measured, rows = sums.measured, sums.rows
    fired = np.bitwise_or.reduce(sums.fired, axis=0)
    sat = sums.sat.sum(axis=0)
    out = {k: [] for k in KEYS}
    unit = 0
    for l in range(L):
        c, oc = sizes[l], sizes[l + 1]
        if measured:
            mean_sq = sums.grad_sq[l] / (measured * (c * oc + oc))
            out["grad_rms"].append(_finite(loss_scale * math.sqrt(mean_sq)))
            out["update_ratio"].append(_finite(sums.ratio[l] / measured))
        else:
            out["grad_rms"].append(None)
            out["update_ratio"].append(None)
        w = model.weights[l]
        out["weight_norm"].append(_finite(math.sqrt(_kernels.sum_squares(w.reshape(-1)))))
        family = (_kernels.diag_family(ACTIVATIONS[acts[l]].code) if l < L - 1
                  else _kernels.nc_diag_family.NC_DIAG_NONE)
        dead = saturated = None
        if rows and family == _kernels.nc_diag_family.NC_DIAG_FIRES:
            dead = float(np.count_nonzero(fired[unit:unit + oc] == 0) / oc)
        elif rows and family == _kernels.nc_diag_family.NC_DIAG_SATURATES:
            saturated = float(sat[l] / (rows * oc))
        out["dead"].append(dead)
        out["saturated"].append(saturated)
        if l < L - 1:
            unit += oc
    return out


# -------------------------------------------------------------- trouble

def _series(history, key, layer):
    """Layer's figure `key` per epoch (None where an epoch has none)."""
    vals = []
    for h in history:
        d = h.get("diagnostics") or {}
        row = d.get(key) or []
        vals.append(row[layer] if layer < len(row) else None)
    return vals


def _since(flags):
    """The 1-based epoch where the trailing run of True flags began, or None when the
    last epoch's flag is not True."""
    if not flags or not flags[-1]:
        return None
    e = len(flags)
    while e > 1 and flags[e - 2]:
        e -= 1
    return e


def _pct(x):
    return f"{100 * x:.0f}%"


def _mag(x):
    """x (> 0) as a power of ten: 1e-4."""
    return f"1e{round(math.log10(x)):d}"


def trouble(history, activations=None):
    """The trouble the last epoch's diagnostics show, as plain-word lines, each naming
    the layer (1 = the first dense layer), the figure and since when:
      - dead units: at least DEAD_SHARE of a relu-family layer's units never fired;
      - saturation: at least SATURATED_SHARE of a sigmoid or tanh layer's values lay in
        the flat ends of the curve;
      - vanishing or exploding gradients: an earlier layer's gradient RMS at most
        VANISHING_RATIO or at least EXPLODING_RATIO times the output layer's;
      - updates too large: the mean step moved a layer's weights by more than
        UPDATE_RATIO of their norm.
    activations names each layer's activation for the hints."""
    last = (history[-1].get("diagnostics") if history else None) or {}
    if not last:
        return []
    L = len(last.get("grad_rms") or [])
    lines = []
    for l in range(L):
        dead = _series(history, "dead", l)
        since = _since([d is not None and d >= DEAD_SHARE for d in dead])
        if since:
            act = activations[l] if activations else "relu"
            hint = ("try a lower learning rate" if act == "leaky_relu" else
                    "try a lower learning rate or leaky_relu")
            lines.append(f"layer {l + 1}: {_pct(dead[-1])} of units dead since epoch "
                         f"{since}; {hint}")
        sat = _series(history, "saturated", l)
        since = _since([s is not None and s >= SATURATED_SHARE for s in sat])
        if since:
            act = activations[l] if activations else "sigmoid or tanh"
            lines.append(f"layer {l + 1}: {_pct(sat[-1])} of its {act} values saturated "
                         f"since epoch {since}; gradients barely pass it: try a lower "
                         f"learning rate, standardized inputs or relu")
    if L > 1:
        top = _series(history, "grad_rms", L - 1)

        def ratios(l):
            mine = _series(history, "grad_rms", l)
            return [a / b if a is not None and b else None for a, b in zip(mine, top)]

        per_layer = {l: ratios(l) for l in range(L - 1)}
        for test, extreme, words in (
                (lambda r: r is not None and r <= VANISHING_RATIO, min,
                 "vanishing gradients: the early layers barely learn; try relu or fewer "
                 "layers"),
                (lambda r: r is not None and r >= EXPLODING_RATIO, max,
                 "exploding gradients: try a lower learning rate or --clip-norm 1.0")):
            hit = [l for l, r in per_layer.items() if test(r[-1])]
            if not hit:
                continue
            pick = extreme(hit, key=lambda l: per_layer[l][-1])
            r = per_layer[pick]
            since = _since([test(x) for x in r])
            size = "zero" if r[-1] == 0 else f"{_mag(r[-1])} of layer {L}'s"
            lines.append(f"layer {pick + 1}'s gradients are {size} since epoch {since}: "
                         f"{words}")
    for l in range(L):
        up = _series(history, "update_ratio", l)
        since = _since([u is not None and u > UPDATE_RATIO for u in up])
        if since:
            lines.append(f"layer {l + 1}: each step moves its weights by {_pct(up[-1])} of "
                         f"their norm since epoch {since} (steady training moves about "
                         f"0.1%); try a lower learning rate")
    return lines
