"""neuralcli demo backprop: the classic 2-2-2 worked example, every number of its forward
pass, backward pass and update."""
import click

from neuralcli.cli import format_option
from neuralcli.cli.demo import EPILOG, numbers, positive
from neuralcli.cli.demo.render import Lesson, g


@click.command("backprop", epilog=EPILOG,
                 short_help="The classic 2-2-2 worked example, every number.")
@click.option("--inputs", default="0.05,0.10", show_default=True, callback=numbers(2),
              help="i1,i2.")
@click.option("--targets", default="0.01,0.99", show_default=True, callback=numbers(2),
              help="Targets of o1,o2.")
@click.option("--w1", default="0.15,0.20,0.25,0.30", show_default=True,
              callback=numbers(4), help="w1..w4: i1->h1, i2->h1, i1->h2, i2->h2.")
@click.option("--w2", default="0.40,0.45,0.50,0.55", show_default=True,
              callback=numbers(4), help="w5..w8: h1->o1, h2->o1, h1->o2, h2->o2.")
@click.option("--biases", default="0.35,0.60", show_default=True, callback=numbers(2),
              help="Hidden bias, output bias.")
@click.option("--lr", type=float, default=0.5, show_default=True, callback=positive)
@format_option()
@click.pass_obj
def command(app, inputs, targets, w1, w2, biases, lr):
    """Every step of forward pass, error, backward pass and one SGD update of a 2-2-2
    sigmoid network, in float64, with the published numbers of the classic example
    (Matt Mazur's) beside the engine's when the defaults are used."""
    from neuralcli import demos

    r = demos.backprop(inputs=inputs, targets=targets, w1=w1, w2=w2, biases=biases, lr=lr)
    L = Lesson(app, "backprop", {"inputs": inputs, "targets": targets, "w1": w1, "w2": w2,
                                 "biases": biases, "lr": lr})
    pub = {c["quantity"]: c for c in r["published"]}
    cols_pub = ["published", "match"] if pub else []

    def row(label, key, value=None):
        v = r["values"][key] if value is None else value
        cells = [label, f"{v:.9f}"]
        if pub:
            c = pub.get(key)
            cells += [c["published"], ("ok" if c["agrees"] else "see note")] if c else ["", ""]
        return cells

    aligns = ["left", "right"] + (["right", "left"] if pub else [])
    s = r["setup"]
    L.step("The network", "i1, i2 -> h1, h2 -> o1, o2, sigmoid on both layers, float64. "
                          "W1 rows are inputs, columns hidden units; W2 likewise.")
    L.pairs([("inputs, targets", f"{s['inputs']}, {s['targets']}"),
             ("W1 = [[w1, w3], [w2, w4]]", str(r["W1"])),
             ("W2 = [[w5, w7], [w6, w8]]", str(r["W2"])),
             ("biases (hidden, output)", f"{s['biases'][0]:g}, {s['biases'][1]:g}"),
             ("learning rate", s["lr"])])
    L.step("Forward pass", "Hidden layer: net_h = x W1 + b1, out_h = sigmoid(net_h); "
                           "output layer: net_o = out_h W2 + b2, out_o = sigmoid(net_o). One "
                           "fused dense kernel call per layer.")
    L.table(["value", "engine"] + cols_pub,
            [row(k, k) for k in ("net_h1", "net_h2", "out_h1", "out_h2", "net_o1", "net_o2",
                                 "out_o1", "out_o2")], aligns=aligns)
    e = r["error"]
    L.step("The error", "Our mse kernel takes the mean over the 2 outputs of (o - t)^2, "
                        "which is the example's sum of 1/2 (t - o)^2; its gradient is o - t, "
                        "the example's dE/do.")
    L.table(["value", "engine"] + cols_pub,
            [row("E_o1", "E_o1"), row("E_o2", "E_o2"), row("E_total (mse kernel)", "E_total"),
             row("dE/dout_o1 (kernel)", "dE/dout_o1"), row("dE/dout_o2 (kernel)",
                                                           "dE/dout_o2")], aligns=aligns)
    L.note("checked: mse = sum of 1/2 (t-o)^2 " + ("yes" if e["mse_equals_half_sum"] else "NO")
           + "; gradient = o - t " + ("yes" if e["gradient_equals_o_minus_t"] else "NO"))
    L.step("Backward: output layer",
           "delta_o = dE/dout_o * out_o (1 - out_o); dE/dw = out_h * delta_o. The dense "
           "backward kernel returns these (its db of one row is delta).")
    L.table(["value", "engine"] + cols_pub,
            [row("dout_o1/dnet_o1", "dout_o1/dnet_o1"), row("delta_o1", "delta_o1")] +
            [row(f"dE/d{w}", f"dE/d{w}") for w in ("w5", "w6", "w7", "w8")], aligns=aligns)
    b = r["backward"]
    L.step("Backward: hidden layer",
           "dE/dout_h = W2 delta_o (the error reaching each hidden unit), then the same "
           "rule one layer down.")
    L.table(["value", "engine"] + cols_pub,
            [row("dE/dout_h1", "dE/dout_h1"), row("dout_h1/dnet_h1", "dout_h1/dnet_h1")] +
            [row(f"dE/d{w}", f"dE/d{w}") for w in ("w1", "w2", "w3", "w4")], aligns=aligns)
    L.note(f"the network's own backward pass (all layers in one call) agrees: max "
           f"difference {g(b['network_agrees'])}")
    u = r["update"]
    L.step(f"Update: w <- w - {g(lr)} * dE/dw",
           "One sgd kernel call on the flat parameter buffer (weights and biases).")
    L.table(["weight", "before"] + (["after", "published", "match"] if pub else ["after"]),
            [[w, g(u["weights_before"][w], 6), *row(w, w)[1:]] for w in
             ("w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8")],
            aligns=["left", "right"] + aligns[1:])
    bb, ba = u["biases_before"], u["biases_after"]
    L.note(f"biases: the example leaves them at {g(bb[0])} and {g(bb[2])}; our engine gives "
           f"each unit its own bias and updates it: hidden {g(ba[0], 6)}, {g(ba[1], 6)}, "
           f"output {g(ba[2], 6)}, {g(ba[3], 6)}.")
    L.note(f"error after the step: {u['error_after_biases_held']:.9f} with biases held (as "
           f"the example), {u['error_after_engine']:.9f} with them updated (the engine).")
    if pub:
        c = pub["E_total_after"]
        L.note(f"published: {c['published']}; {c['note']}.")
        total = sum(1 for c in r["published"] if "note" not in c)
        agree = sum(1 for c in r["published"] if "note" not in c and c["agrees"])
        L.note(f"{agree} of {total} published numbers reproduced to their printed digits",
               style="green" if agree == total else "red")
    L.lesson("backpropagation is the chain rule applied layer by layer, each layer's error "
             "signal computed from the one above.")
    L.finish(r)
