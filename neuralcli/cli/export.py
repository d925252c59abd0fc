"""neuralcli export: a model file as one ONNX model, preprocessing included."""
import click

EPILOG = """\b
Examples:
  neuralcli export model.ncm                       # writes model.onnx
  neuralcli export model.ncm -o deploy/churn.onnx --force
"""

@click.command("export", epilog=EPILOG, short_help="Write a model as ONNX.")
@click.argument("model_path", metavar="MODEL", type=click.Path())
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="ONNX file to write (default: MODEL with the extension .onnx).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.pass_obj
def command(app, model_path, output, force):
    """Write MODEL as one ONNX model that onnxruntime runs with nothing of neuralcli.

    A model trained by `neuralcli train` takes one input per feature column, named as
    the column, of shape [N, 1]: numbers as float (double for a float64 model, NaN when
    missing), dates as double days since 1970-01-01, text as string. The graph holds the
    imputation, standardization and categories, the network and the output link. It
    gives `label` and `probabilities` for a classifier, `value` in the target's units for
    a regression. A model of MLPClassifier or MLPRegressor gives its bare network with
    one input `input`. docs/export.md has the details."""
    import os

    from neuralcli import onnx_export
    from neuralcli.cli.app import CliError

    console = app.console
    if output is None:
        output = os.path.splitext(model_path)[0] + ".onnx"
    proto = onnx_export.export_file(model_path)
    if os.path.abspath(output) == os.path.abspath(model_path):
        raise CliError(f"{output} is the model file itself; choose another -o/--output")
    if os.path.exists(output) and not force:
        raise CliError(f"{output} already exists; pass --force to overwrite it")
    directory = os.path.dirname(output) or "."
    if not os.path.isdir(directory):
        raise CliError(f"the directory {directory} of -o/--output {output} does not exist; "
                       f"create it first")
    size = onnx_export.save(proto, output)
    console.table(["input", "type", "shape", "what"],
                  [_row(v) for v in proto.graph.input], title="Inputs")
    console.table(["output", "type", "shape", "what"],
                  [_row(v) for v in proto.graph.output], title="Outputs")
    console.note(f"wrote {output} ({size:,} bytes; ONNX IR version "
                 f"{onnx_export.IR_VERSION}, opset {onnx_export.OPSET}, ai.onnx.ml "
                 f"{onnx_export.ML_OPSET})")


def _row(value):
    """A graph input's or output's name, element type, shape and description."""
    import onnx

    t = value.type.tensor_type
    kind = onnx.TensorProto.DataType.Name(t.elem_type).lower()
    shape = "[" + ", ".join(d.dim_param or str(d.dim_value) for d in t.shape.dim) + "]"
    return [value.name, kind, shape, value.doc_string]
