"""neuralcli info: what a model file holds."""
import click

from neuralcli.cli import format_option

EPILOG = """\b
Examples:
  neuralcli info model.ncm
  neuralcli info model.ncm --json
"""


@click.command("info", epilog=EPILOG, short_help="Describe a model file.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@format_option(json_flag=True)
@click.pass_obj
def command(app, model_path):
    """Show MODEL's architecture, parameter count, FLOPs per sample, preprocessing (each
    column's encoding: standardized number and its format, date features, categories and
    the shared other input, ID-like columns left out), training settings and history, and
    the library version that wrote it, and the last epoch's training diagnostics per
    layer with the trouble they show."""
    from dataclasses import asdict

    from neuralcli.cli import report
    from neuralcli.model import TrainedModel
    from neuralcli.network import init_description

    console = app.console
    model = TrainedModel.load(model_path)
    pre, info = model.pre, model.info
    summary = model.net.summary()
    columns = pre.describe()
    if console.format == "json":
        console.json({
            "model": str(model_path), "library_version": info.get("library_version"),
            "task": model.task, "target": pre.target, "classes": pre.class_names,
            "output": asdict(model.spec), "network": summary,
            "preprocessing": [{"column": c, "kind": k, "encoding": h} for c, k, h in columns],
            "dropped": pre.dropped, "identifiers_left_out": pre.ids,
            "settings": asdict(model.settings), "training": info,
            "history": model.history, "target_scaling": report.target_scaling(model),
            "initialization": init_description(model.net.activations),
            "trouble": report.trouble(model),
        })
        return
    console.heading(f"{model_path}: a {model.task} model of {pre.target!r}, written by "
                    f"neuralcli {info.get('library_version', '?')}")
    console.line()
    report.architecture(console, model)
    console.line()
    out = model.spec
    reading = {"sigmoid": "sigmoid of the output = P(positive class)",
               "softmax": "softmax of the outputs = class probabilities",
               "none": "the output itself"}[out.link]
    loss = out.loss
    scaling = report.target_scaling(model)
    if scaling:
        reading = (f"the output * {scaling['std']:.6g} + {scaling['mean']:.6g}, in the "
                   f"target's own units")
        loss = f"{out.loss}, on the standardized target"
    task = [("target", pre.target), ("task", info.get("task_reason", model.task)),
            ("classes", ", ".join(pre.class_names) if pre.class_names else None)]
    if scaling:
        task.append(("target scaling", report.scaling_text(scaling)))
    console.pairs(task + [("loss", loss), ("prediction", reading)], title="Task")
    console.line()
    console.table(["column", "kind", "encoding"], columns, title="Preprocessing")
    if pre.dropped:
        console.text(f"dropped columns: {', '.join(pre.dropped)}")
    console.line()
    st = model.settings
    console.pairs([("hidden", ",".join(str(h) for h in st.hidden)),
                   ("activation", st.activation),
                   ("initialization", init_description(model.net.activations)),
                   ("optimizer", f"{st.optimizer}, lr "
                                                                f"{st.lr:g}, {st.schedule}"),
                   ("epochs", f"{len(model.history)} run of {st.epochs} (best "
                              f"{info.get('best_epoch', '-')}, {info.get('stop_reason')})"),
                   ("batch size", st.batch_size or "full batch"),
                   ("regularization", f"weight decay {st.weight_decay:g}, dropout "
                                      f"{st.dropout:g}, clip norm {st.clip_norm or 'off'}"),
                   ("seed, dtype", f"{st.seed}, {st.dtype}"),
                   ("data", f"{info.get('data')}: {info.get('rows_train', 0):,} training rows, "
                            f"{info.get('rows_val', 0):,} validation rows"),
                   ("trained", f"{info.get('created', '?')} in {info.get('elapsed_s', 0):.2f}"
                               f" s")], title="Training")
    if len(model.history) > 1:
        console.line()
        series = {"train": [h["loss"] for h in model.history]}
        if any("val_loss" in h for h in model.history):
            series["validation"] = [h.get("val_loss") for h in model.history]
        console.chart(series, title="Loss per epoch")
    if any("diagnostics" in h for h in model.history[-1:]):
        console.line()
        report.diagnostics_table(console, model)
