"""What the commands show, composed from console calls: training progress and summary,
the architecture table, evaluation figures. Nothing here builds rich objects."""
from neuralcli.training import Callback


class TrainProgress(Callback):
    """Bridges the training loop's callbacks to the console's progress display.

    Losses of a regression run are shown as on the standardized target: the model's
    preprocessing standardizes every regression target it trains on (target_scaling), and
    a regression epoch is one whose logs carry no accuracy. Until the first epoch ends that
    is unknown, so batch losses show from then on."""

    def __init__(self, console):
        # the display takes the run's length from the state at its start
        self.console = console
        self.display = None
        self.scaled = None  # whether losses are on a standardized target; None: not known yet
        self.shown = None   # the logs of the last epoch shown

    def on_train_begin(self, state):
        self.display = self.console.progress(state.epochs, state.batches_per_epoch)
        self.display.__enter__()

    def on_batch_end(self, state, logs):
        self.display.batch(logs["epoch"], logs["batch"],
                           None if self.scaled is None else logs["loss"],
                           scaled=bool(self.scaled))

    def on_epoch_end(self, state, logs):
        self._show(logs)

    def on_train_end(self, state):
        if self.display is None:
            return
        # a signal can stop training between an epoch's end and its report: the display
        # ends on the last epoch that ended all the same
        if state.history and state.history[-1] is not self.shown:
            self._show(state.history[-1])
        self.display.__exit__(None, None, None)

    def _show(self, logs):
        if self.scaled is None:
            self.scaled = "accuracy" not in logs
        self.shown = logs
        self.display.epoch(logs, scaled=self.scaled)


def _metric_name(model):
    return "R^2" if model.task == "regression" else "accuracy"


def target_scaling(model):
    """{"mean", "std"} of a regression target standardized for training, else None."""
    pre = model.pre
    if model.task != "regression" or not pre.scale_target:
        return None
    return {"mean": float(pre.target_mean), "std": float(pre.target_std)}


def scaling_text(scaling):
    """How the target was scaled, in words."""
    return (f"standardized for training: (value - {scaling['mean']:.6g}) / "
            f"{scaling['std']:.6g}")


def no_better_than_baseline(model):
    """A sentence when the kept model scores no better than ignoring its inputs (the
    majority class's share of the training rows, or R^2 0 for the mean), on the
    validation rows (else the training rows); else None. Class weights trade accuracy for
    the rarer classes, so a weighted classifier is not judged by accuracy."""
    final = model.info.get("final", {})
    on = "validation" if "val_metric" in final else "training"
    score = final.get("val_metric", final.get("train_metric"))
    if score is None:
        return None
    if model.task == "regression":
        if score > 0:
            return None
        return f"the model does no better than predicting the mean: {on} R^2 {score:.4g}"
    prior = model.info.get("class_prior")
    if not prior or model.settings.class_weight is not None or score > max(prior):
        return None
    return (f"the model does no better than always predicting the majority class: {on} "
            f"accuracy {score:.4g} against its share {max(prior):.4g}")


def kept_text(state, monitor):
    """Which epoch's weights the model holds, and why those."""
    kept, best, n = state.kept_epoch, state.best_epoch, len(state.history)
    if not kept:
        return "-"
    if monitor == "val_loss" and kept == best:
        return f"epoch {kept}'s, the best by val_loss"
    if monitor == "val_loss":
        return (f"epoch {kept}'s, the last; the best by val_loss was epoch {best} "
                f"(early stopping goes back to it)")
    if kept == n:
        return f"epoch {kept}'s, the last (no validation rows to pick a best epoch by)"
    return f"epoch {kept}'s, the lowest training loss"


def training_summary(console, model, state, path, *, as_json=False, signal=None):
    """What training did and what it kept. signal: "SIGINT" or "SIGTERM" when one came,
    said here once (the command then exits without a further line)."""
    info, final = model.info, model.info.get("final", {})
    metric = _metric_name(model)
    if as_json:
        console.json({
            "model": str(path), "task": model.task, "task_reason": info["task_reason"],
            "stop_reason": state.stop_reason, "message": state.message,
            "epochs_run": len(state.history), "best_epoch": state.best_epoch,
            "kept_epoch": state.kept_epoch,
            "final": final, "elapsed_s": info["elapsed_s"],
            "samples_per_s": info["samples_per_s"], "history": model.history,
            "target_scaling": target_scaling(model),
            "warnings": [w for w in [no_better_than_baseline(model)] if w] + trouble(model),
        })
        return
    n = len(state.history)
    epochs = "1 epoch" if n == 1 else f"{n} epochs"
    stopped = "terminated (SIGTERM)" if signal == "SIGTERM" else "interrupted"
    reason = {"completed": "ran its only epoch" if n == 1 else f"ran all {n} epochs",
              "early_stopping": f"stopped early after {epochs}",
              "interrupted": f"{stopped} in epoch {n + 1}",
              "diverged": f"diverged in epoch {n + 1}",
              "stopped": f"stopped after {epochs}"}.get(state.stop_reason, state.stop_reason)
    message = state.message
    if state.stop_reason == "interrupted" and state.best_epoch:
        # the heading has said where it stopped; the message would say it again
        message = (f"kept the weights of epoch {state.best_epoch}, the best by "
                   f"{info['monitor']}")
    console.line()
    console.heading(f"Trained a {model.task} model: {reason}")
    if message and state.stop_reason != "diverged":  # that one ends as the error line
        console.text(message)
    if signal and state.stop_reason != "interrupted":
        console.text(f"{stopped} as the model was being saved; it was saved whole")
    rows = []
    if "train_loss" in final:
        rows.append(["train", final["train_loss"], final["train_metric"]])
    if "val_loss" in final:
        rows.append(["validation", final["val_loss"], final["val_metric"]])
    scaling = target_scaling(model)
    items = [("task", info["task_reason"])]
    if scaling:
        items.append(("target", scaling_text(scaling) + "; the losses are on that scale"))
    items += [("weights", kept_text(state, info["monitor"])),
             ("time", f"{info['elapsed_s']:.2f} s"),
             ("throughput", f"{info['samples_per_s']:,.0f} samples/s on {info['threads']} "
                            f"thread{'s' if info['threads'] != 1 else ''} ({info['isa']})"),
             ("model", str(path))]
    console.pairs(items)
    if rows:
        console.line()
        console.table(["", "loss (standardized)" if scaling else "loss", metric], rows)
    losses = {"train": [h["loss"] for h in model.history]}
    if any("val_loss" in h for h in model.history):
        losses["validation"] = [h.get("val_loss") for h in model.history]
    if len(model.history) > 1:
        console.line()
        console.chart(losses, title="Loss per epoch")
    useless = no_better_than_baseline(model)
    if useless:
        console.warn(f"{useless}; try a lower learning rate than {model.settings.lr:g}, more "
                     f"epochs, or check that the inputs say something about the target")
    for line in trouble(model):
        console.warn(line)


def trouble(model):
    """The trouble the training diagnostics of the model's last epoch show, in plain
    words (diagnostics.trouble)."""
    from neuralcli import diagnostics

    return diagnostics.trouble(model.history, model.net.activations)


def _share(v):
    return None if v is None else f"{100 * v:.0f}%"


def diagnostics_table(console, model):
    """The last epoch's diagnostics per dense layer, and the trouble they show."""
    history = model.history
    last = (history[-1].get("diagnostics") if history else None) or {}
    if not last:
        return False
    rows = []
    for l, act in enumerate(model.net.activations):
        rows.append([l + 1, act, last["grad_rms"][l], last["weight_norm"][l],
                     last["update_ratio"][l], _share(last["dead"][l]),
                     _share(last["saturated"][l])])
    console.table(["layer", "activation", "grad RMS", "weight norm", "update ratio", "dead",
                   "saturated"], rows, title=f"Diagnostics, epoch {len(history)}",
                  aligns=["right", "left", "right", "right", "right", "right", "right"])
    lines = trouble(model)
    for line in lines:
        console.text(line)
    if not lines:
        console.text("no trouble: no dead or saturated layer, no vanishing or exploding "
                     "gradients, no oversized updates")
    return True


def architecture(console, model, *, title="Network"):
    s = model.net.summary()
    rows = []
    for r in s["layers"]:
        rows.append([r["layer"] + 1, f"{r['in']} -> {r['out']}", r["activation"],
                     r["dropout"] or None, r["params"], r["flops_forward"]])
    console.table(["layer", "shape", "activation", "dropout", "params", "FLOPs/sample"],
                  rows, title=title)
    console.pairs([("parameters", s["params"]),
                   ("FLOPs per sample", f"{s['flops_forward']:,} forward, "
                                        f"{s['flops_train']:,} per training step"),
                   ("memory", f"{_bytes(s['param_bytes'])} parameters, "
                              f"{_bytes(s['optimizer_bytes'])} optimizer state "
                              f"({s['dtype']})")])


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
