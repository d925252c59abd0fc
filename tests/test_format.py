"""--format rich|plain|json on every command that prints results: one console, configured
when the option is read, never changed by the command; --json stays short for
--format json."""
import io
import json

import pytest
from click.testing import CliRunner

from neuralcli.cli import cli
from neuralcli.cli.app import App
from neuralcli.cli.console import Console

RULE = "\u2500"     # rich draws it under a table's header; plain text draws '-'


def invoke(*args, color=True):
    """Run the real command through a colour console writing to buffers; return the
    result, the console the invocation ended with, and the one it started with."""
    console = Console(color=color, out=io.StringIO(), err=io.StringIO())
    app = App(console)
    result = CliRunner().invoke(cli.commands[args[0]], [str(a) for a in args[1:]], obj=app)
    assert result.exit_code == 0, (result.output, result.exception)
    return result, app.console, console


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    where = tmp_path_factory.mktemp("formats")
    data, model = where / "loan.csv", where / "loan.ncm"
    runner = CliRunner()
    assert runner.invoke(cli, ["datasets", "loan", "--rows", "200", "-o", str(data)]) \
        .exit_code == 0
    assert runner.invoke(cli, ["-q", "train", str(data), "--epochs", "3", "--hidden", "8",
                               "-o", str(model)]).exit_code == 0
    return data, model


def _commands(files):
    data, model = files
    return {"info": ["info", model], "eval": ["eval", model, data],
            "inspect": ["inspect", data], "datasets": ["datasets"],
            "explain": ["explain", model, data, "--row", "2"],
            "explain-neuron": ["explain-neuron", "--inputs", "1,0", "--weights", "0.6,0.6",
                               "--bias", "-1"],
            "demo": ["demo"], "demo xor": ["demo", "xor", "--epochs", "50"]}


@pytest.mark.parametrize("name", ["info", "eval", "inspect", "datasets", "explain",
                                  "explain-neuron", "demo", "demo xor"])
def test_every_command_has_the_three_formats(files, name):
    args = _commands(files)[name]
    rich, used, given = invoke(*args)
    assert used is given and used.format == "rich"
    assert RULE in given.out.getvalue()
    plain, used, given = invoke(*args, "--format", "plain")
    # the command wrote through a plain console of its own; the one it was given is as it was
    assert used is not given and used.format == "plain" and not used.rich_out
    assert given.rich_out and given.rich_err and given.format == "rich"
    text = used.out.getvalue()
    assert text and RULE not in text and "\x1b" not in text
    assert given.out is used.out
    _, used, _ = invoke(*args, "--format", "json")
    json.loads(used.out.getvalue())


@pytest.mark.parametrize("name", ["info", "eval", "inspect", "datasets"])
def test_json_is_short_for_format_json(files, name):
    args = _commands(files)[name]
    _, a, _ = invoke(*args, "--json")
    _, b, _ = invoke(*args, "--format", "json")
    assert a.format == b.format == "json"
    assert json.loads(a.out.getvalue()) == json.loads(b.out.getvalue())


def test_train_takes_the_format(files, tmp_path):
    data, _ = files
    fast = [data, "--epochs", "2", "--hidden", "8", "--force"]
    _, used, _ = invoke("train", *fast, "-o", tmp_path / "a.ncm", "--format", "json")
    summary = json.loads(used.out.getvalue())
    _, used, _ = invoke("train", *fast, "-o", tmp_path / "b.ncm", "--json")
    assert json.loads(used.out.getvalue()).keys() == summary.keys()
    _, used, _ = invoke("train", *fast, "-o", tmp_path / "c.ncm", "--format", "plain")
    assert not used.rich_err and RULE not in used.out.getvalue()


def test_a_demo_lesson_takes_the_groups_format_or_its_own():
    _, a, _ = invoke("demo", "--format", "json", "xor", "--epochs", "50")
    _, b, _ = invoke("demo", "xor", "--epochs", "50", "--format", "json")
    assert json.loads(a.out.getvalue()) == json.loads(b.out.getvalue())
    # the lesson's own --format wins, and rich comes back with the colour it had
    _, c, given = invoke("demo", "--format", "plain", "xor", "--epochs", "50", "--format",
                         "rich")
    assert c.format == "rich" and c.rich_out and RULE in c.out.getvalue()


def test_predict_has_no_format(files):
    """predict writes the CSV itself: data, not a report to format."""
    data, model = files
    result = CliRunner().invoke(cli, ["predict", str(model), str(data), "--format", "json"])
    assert result.exit_code == 2 and "--format" in result.stderr


def test_with_format():
    out, err = io.StringIO(), io.StringIO()
    c = Console(color=True, quiet=True, out=out, err=err)
    assert c.with_format("rich") is c and c.format == "rich"
    plain = c.with_format("plain")
    assert (plain.rich_out, plain.rich_err, plain.quiet) == (False, False, True)
    assert plain.out is out and plain.err is err
    js = c.with_format("json")
    # JSON on stdout; messages and progress on stderr as the terminal allows
    assert (js.rich_out, js.rich_err) == (False, True)
    assert plain.with_format("rich").rich_out
    assert not Console(color=False).with_format("rich").rich_out
    with pytest.raises(ValueError):
        c.with_format("html")


def test_markdown_tables():
    c = Console(color=True, out=io.StringIO(), fmt="markdown")
    c.table(["case", "ms"], [["a 2-64-1", "0.057"], ["x|y", None]], title="Per step")
    assert c.out.getvalue().splitlines() == [
        "Per step", "", "| case | ms |", "|---|---|", "| a 2-64-1 | 0.057 |",
        "| x\\|y | - |"]
