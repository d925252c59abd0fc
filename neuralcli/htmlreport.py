"""The report page: one self-contained HTML file about a trained model and its scores on a
data set. Figures are SVG images held in the page as data URIs, the style sheet is in the
page, and nothing is fetched from anywhere, so the file reads the same offline, mailed
or printed. The numbers are eval's (neuralcli.scoring), the figures neuralcli.draw's."""
import base64
import datetime
import html
import math

from neuralcli import diagnostics, draw, plots, scoring
from neuralcli._version import __version__

CSS = """
:root { --ink: #202124; --muted: #5f6368; --rule: #dadce0; --accent: #0877bd;
        --warn-bg: #fef7e0; --warn: #8a5a00; }
* { box-sizing: border-box; }
html { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
       color: var(--ink); line-height: 1.45; }
body { margin: 0 auto; padding: 1.5rem 2rem 3rem; max-width: 1180px; }
h1 { font-size: 1.55rem; margin: 0 0 .2rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; padding-bottom: .25rem;
     border-bottom: 2px solid var(--rule); }
h3 { font-size: 1rem; margin: 1.2rem 0 .4rem; }
p.lead { color: var(--muted); margin: 0 0 1rem; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
         gap: .6rem; margin: .8rem 0 1rem; }
.card { border: 1px solid var(--rule); border-radius: 6px; padding: .5rem .75rem; }
.card .label { font-size: .78rem; color: var(--muted); }
.card .value { font-size: 1.25rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .base { font-size: .78rem; color: var(--muted); }
.columns { display: grid; grid-template-columns: 1fr 1fr; gap: 0 2rem; }
table { border-collapse: collapse; margin: .3rem 0 1rem; font-size: .88rem; }
th, td { padding: .25rem .7rem .25rem 0; text-align: left; vertical-align: top;
         border-bottom: 1px solid var(--rule); }
th { font-weight: 600; color: var(--muted); }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr));
           gap: 1rem 1.5rem; align-items: start; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; width: 100%; height: auto; }
figure.wide { grid-column: 1 / -1; max-width: 820px; }
figcaption { font-size: .82rem; color: var(--muted); margin-top: .2rem; }
ul.flags { padding: 0; list-style: none; }
ul.flags li { background: var(--warn-bg); color: var(--warn); border-radius: 4px;
              padding: .4rem .7rem; margin: .3rem 0; }
.note { color: var(--muted); font-size: .88rem; }
footer { margin-top: 2.5rem; color: var(--muted); font-size: .8rem; }
@media (max-width: 760px) {
  body { padding: 1rem; }
  .columns { grid-template-columns: 1fr; }
  .figures { grid-template-columns: 1fr; }
}
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  html { font-size: 10pt; }
  body { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h2, h3 { break-after: avoid; }
  table, .cards, ul.flags li { break-inside: avoid; page-break-inside: avoid; }
  .cards { grid-template-columns: repeat(4, 1fr); }
  .columns { grid-template-columns: 1fr 1fr; }
  .figures { grid-template-columns: 1fr 1fr; gap: .6rem 1rem; }
  figure.wide { grid-column: 1 / -1; max-width: 15cm; margin: 0 auto; }
  ul.flags li { border: 1px solid var(--warn); background: none; }
  a { color: inherit; text-decoration: none; }
}
"""


def number(v):
    """A figure as a table shows it: None as "-", whole numbers grouped, others to four
    significant places (scientific notation when very large or small)."""
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"{v:,}"
    v = float(v)
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.3e}"
    return f"{v:.4f}".rstrip("0").rstrip(".") if abs(v) < 100 else f"{v:,.1f}"


def _e(text):
    return html.escape(str(text), quote=True)


def _table(columns, rows, numeric=()):
    head = "".join(f'<th class="num">{_e(c)}</th>' if i in numeric else f"<th>{_e(c)}</th>"
                   for i, c in enumerate(columns))
    body = []
    for r in rows:
        cells = []
        for i, v in enumerate(r):
            text = number(v) if not isinstance(v, str) else v
            cells.append(f'<td class="num">{_e(text)}</td>' if i in numeric
                         else f"<td>{_e(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pairs(items):
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items
                   if v is not None)
    return f"<table><tbody>{rows}</tbody></table>"


def _figure_html(fig, alt, caption=None, wide=False):
    svg = draw.svg_text(fig)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    cls = ' class="wide"' if wide else ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return (f'<figure{cls}><img alt="{_e(alt)}" src="data:image/svg+xml;base64,{data}">'
            f"{cap}</figure>")


def _cards(items):
    """Headline figures: (label, value, baseline)."""
    out = []
    for label, value, base in items:
        out.append(f'<div class="card"><div class="label">{_e(label)}</div>'
                   f'<div class="value">{_e(number(value))}</div>'
                   f'<div class="base">baseline {_e(number(base))}</div></div>')
    return f'<div class="cards">{"".join(out)}</div>'


def _kinds(model):
    """The kinds of figure that apply to the model, in the order of plots.KINDS."""
    out = []
    for kind in plots.KINDS:
        try:
            plots.check(kind, model)
        except plots.NotApplicable:
            continue
        out.append(kind)
    return out


def render(model, scored, *, model_path):
    """The page, as text, for `model` (a TrainedModel) and `scored` (its predictions over
    a data set, scoring.score_tables with the model's input columns kept when it maps a
    plane, and the encoded inputs kept for the permutation importance; without them the
    importance is left out). The trouble the training diagnostics show
    (neuralcli.diagnostics) is flagged in plain words above the curves. Needs matplotlib
    (draw.MissingExtra without it)."""
    draw.matplotlib()
    pre, info, st = model.pre, model.info, model.settings
    got, base = scoring.figures(model, scored)
    kinds = _kinds(model)
    title = f"{model.task} model of {pre.target!r}"
    parts = [f"<h1>{_e(title[0].upper() + title[1:])}</h1>",
             f'<p class="lead">{_e(model_path)}, scored on {_e(scored.path)} '
             f"({scored.n_rows:,} rows)</p>"]

    # ---- the figures eval reports, beside the baseline
    parts.append("<h2>Scores beside the baseline</h2>")
    if model.task == "regression":
        parts.append(_cards([("R\u00b2", got["r2"], base["r2"]),
                             ("RMSE", got["rmse"], base["rmse"]),
                             ("MAE", got["mae"], base["mae"])]))
        parts.append(_table(["metric", "model", "baseline (training mean)"],
                            [[k.upper() if k != "r2" else "R\u00b2", got[k], base[k]]
                             for k in ("mse", "rmse", "mae", "r2")], numeric=(1, 2)))
    else:
        k = pre.n_classes
        auc = "ROC AUC" + (" (one-vs-rest)" if k > 2 else "")
        parts.append(_cards([("accuracy", got["accuracy"], base["accuracy"]),
                             ("log-loss", got["log_loss"], base["log_loss"]),
                             (auc, got["roc_auc"], base["roc_auc"]),
                             ("macro F1", got["macro_f1"], base["macro_f1"])]))
        parts.append('<div class="columns"><div>')
        parts.append(_table(["metric", "model", "baseline (majority class)"],
                            [["accuracy", got["accuracy"], base["accuracy"]],
                             ["log-loss", got["log_loss"], base["log_loss"]],
                             ["macro F1", got["macro_f1"], base["macro_f1"]],
                             ["weighted F1", got["weighted_f1"], base["weighted_f1"]],
                             [auc, got["roc_auc"], base["roc_auc"]]], numeric=(1, 2)))
        parts.append("</div><div>")
        names = pre.class_names
        parts.append(_table(["class", "precision", "recall", "F1", "support"],
                            [[str(names[i]), got["precision"][i], got["recall"][i],
                              got["f1"][i], got["support"][i]] for i in range(k)],
                            numeric=(1, 2, 3, 4)))
        parts.append("</div></div>")
    for note in scored.notes:
        parts.append(f'<p class="note">{_e(note)}</p>')

    # ---- training: curves, diagnostics and what they flag
    parts.append("<h2>Training</h2>")
    flags = diagnostics.trouble(model.history, model.net.activations)
    if flags:
        parts.append('<ul class="flags">' + "".join(f"<li>{_e(f)}</li>" for f in flags)
                     + "</ul>")
    figs = []
    captions = {
        "loss": "Loss per epoch; the dashed line marks the epoch whose weights the model "
                "keeps.",
        "lr": "The learning rate each epoch ran at.",
        "gradients": "Per layer: how large the gradients are, how far a step moves the "
                     "weights, and how large the weights are.",
        "dead": "Per layer: units that never fired in an epoch (ReLU family) or sat "
                "in a flat tail (sigmoid, tanh).",
    }
    for kind in ("loss", "lr", "gradients", "dead"):
        if kind in kinds:
            figs.append(_figure_html(draw.figure(kind, model), plots.KINDS[kind].what,
                                     captions[kind]))
    if "gradients" not in kinds:
        parts.append('<p class="note">The model\'s history holds no per-epoch '
                     'diagnostics (gradients, dead units).</p>')
    parts.append(f'<div class="figures">{"".join(figs)}</div>')

    # ---- predictions
    parts.append("<h2>Predictions</h2>")
    figs = []
    pred_kinds = ["confusion", "roc", "pr", "calibration"] if model.task != "regression" \
        else ["predicted-vs-actual", "residuals"]
    for kind in pred_kinds:
        figs.append(_figure_html(draw.figure(kind, model, scored), plots.KINDS[kind].what))
    parts.append(f'<div class="figures">{"".join(figs)}</div>')

    # ---- which inputs matter
    if scored.inputs is not None and scored.n_rows >= 2:
        parts.append("<h2>Feature importance</h2>")
        numbers = plots.importance(model, scored)
        parts.append('<div class="figures">' + _figure_html(
            draw.importance(numbers), plots.KINDS["importance"].what,
            f"How much the {numbers['metric']} drops when a column's values are shuffled "
            f"among the rows: the mean over {numbers['repeats']} seeded shuffles, as "
            f"eval --importance gives it.") + "<div>" +
            _table(["column", "mean drop", "smallest", "largest"],
                   [[c["column"], c["mean"], c["low"], c["high"]]
                    for c in numbers["columns"]], numeric=(1, 2, 3)) + "</div></div>")

    # ---- the map of a model of two number inputs
    if "boundary" in kinds:
        parts.append("<h2>The model's map</h2>")
        parts.append('<div class="figures">' + _figure_html(
            draw.figure("boundary", model, scored), plots.KINDS["boundary"].what,
            "Colour: what the model predicts at each point of the plane of its two "
            "inputs; dots: the data's rows. Below, each first-layer neuron's output over "
            "the same plane.", wide=True) + "</div>")

    # ---- the model and the data it was trained on
    parts.append("<h2>The model</h2>")
    parts.append('<div class="columns"><div>')
    s = model.net.summary()
    parts.append("<h3>Network</h3>")
    parts.append(_table(["layer", "shape", "activation", "dropout", "params"],
                        [[r["layer"] + 1, f"{r['in']} \u2192 {r['out']}", r["activation"],
                          r["dropout"] or "-", r["params"]] for r in s["layers"]],
                        numeric=(0, 4)))
    parts.append(_pairs([("parameters", f"{s['params']:,} ({s['dtype']})"),
                         ("FLOPs per sample", f"{s['flops_forward']:,}")]))
    parts.append("</div><div><h3>Training</h3>")
    parts.append(_pairs([
        ("task", info.get("task_reason", model.task)),
        ("classes", ", ".join(map(str, pre.class_names)) if pre.class_names else None),
        ("optimizer", f"{st.optimizer}, lr {st.lr:g}, {st.schedule} schedule"),
        ("epochs", f"{len(model.history)} of {st.epochs} (kept epoch "
                   f"{info.get('best_epoch', '-')}, {info.get('stop_reason')})"),
        ("batch size", st.batch_size or "full batch"),
        ("regularization", f"weight decay {st.weight_decay:g}, dropout {st.dropout:g}"),
        ("trained on", f"{info.get('data')}: {info.get('rows_train', 0):,} training rows, "
                       f"{info.get('rows_val', 0):,} validation rows"),
        ("written", f"{info.get('created', '?')} by neuralcli "
                    f"{info.get('library_version', '?')}"),
    ]))
    parts.append("</div></div>")
    parts.append("<h3>Input columns</h3>")
    parts.append(_table(["column", "kind", "encoding"],
                        [list(map(str, r)) for r in pre.describe()]))
    if pre.dropped:
        parts.append(f'<p class="note">Dropped columns: {_e(", ".join(pre.dropped))}</p>')
    made = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<footer>Made by neuralcli {_e(__version__)} on {_e(made)}.</footer>")
    return _page(f"neuralcli report: {title}", "\n".join(parts))


def _page(title, body):
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{_e(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n{body}\n"
            f"</body>\n</html>\n")
