"""neuralcli train: fit a network to a CSV file (or the built-in two spirals)."""
import os

import click

from neuralcli.activations import hidden_activations
from neuralcli.cli import format_option
from neuralcli.cli.options import (class_weight, drop_option, hidden_sizes, impute_option,
                                   keep_id_option, max_categories_option, positive_int,
                                   reading_kwargs, reading_options, target_option, task_option)
from neuralcli.losses import LOSSES
from neuralcli.model import Settings
from neuralcli.network import DTYPES
from neuralcli.optim import OPTIMIZERS

# The library's defaults, which the options show and pass when not given; the library
# checks every value (Settings.validate) and the command reports a bad one as its option.
DEFAULTS = Settings()

EPILOG = """\b
Examples:
  neuralcli train                                   # the built-in two spirals
  neuralcli train houses.csv --target price -o price.ncm
  neuralcli train churn.csv --drop customer_id --class-weight balanced
  neuralcli train iris.csv --hidden 32 --epochs 500 --schedule cosine --seed 1
  gunzip -c sales.csv.gz | neuralcli train - --na-values "-,n/a" --impute median
  neuralcli train big.csv --checkpoint big.ckpt     # Ctrl-C, then:
  neuralcli train --resume big.ckpt --epochs 500
"""

# Options a resumed run may change without a word and that the checkpoint does not keep;
# it takes the others from the checkpoint, and of those only --epochs may change
RESUME_FREE = ("data", "threads", "output", "force", "checkpoint", "checkpoint_every",
               "resume", "memory_limit_text", "distributed")


@click.command("train", epilog=EPILOG, short_help="Train a network on a CSV file.")
@click.argument("data", required=False, type=click.Path(dir_okay=True))
@target_option
@drop_option
@task_option
@click.option("--hidden", default=",".join(map(str, DEFAULTS.hidden)), show_default=True,
              help="Hidden layer widths, comma-separated.")
@click.option("--activation", default=DEFAULTS.activation, show_default=True,
              type=click.Choice(hidden_activations()), help="Hidden layers' activation.")
@click.option("--loss", default=DEFAULTS.loss, show_default=True,
              type=click.Choice(["auto", *LOSSES]),
              help="auto: cross-entropy for classes, mse for values; mse on a "
                   "classification task trains sigmoid/softmax outputs directly.")
@click.option("--optimizer", default=DEFAULTS.optimizer, show_default=True,
              type=click.Choice(list(OPTIMIZERS)))
@click.option("--lr", type=float, default=DEFAULTS.lr, show_default=True,
              help="Learning rate.")
@click.option("--epochs", type=int, default=DEFAULTS.epochs, show_default=True,
              help="Most passes over the training rows.")
@click.option("--batch-size", type=int, default=DEFAULTS.batch_size, show_default=True,
              help="Rows per step (0: the whole training set).")
@click.option("--val-split", type=float, default=DEFAULTS.val_split, show_default=True,
              help="Fraction of rows held out for validation (stratified for classes).")
@click.option("--val", "val_path", type=click.Path(), help="A separate validation CSV "
                                                           "instead of --val-split.")
@click.option("--early-stopping/--no-early-stopping", default=DEFAULTS.early_stopping,
              show_default=True,
              help="Stop when validation loss stops improving and keep the best weights.")
@click.option("--patience", type=int, default=DEFAULTS.patience, show_default=True,
              help="Epochs without improvement before early stopping.")
@click.option("--schedule", default=DEFAULTS.schedule, show_default=True,
              type=click.Choice(["constant", "step", "cosine", "warmup_cosine", "plateau"]),
              help="Learning-rate schedule.")
@click.option("--weight-decay", type=float, default=DEFAULTS.weight_decay, show_default=True)
@click.option("--dropout", type=float, default=DEFAULTS.dropout, show_default=True,
              help="Dropout rate on hidden layers.")
@click.option("--clip-norm", type=float, default=DEFAULTS.clip_norm, show_default=True,
              help="Clip the gradient's global L2 norm (0: off).")
@click.option("--class-weight", "class_weight_text",
              help="'balanced', or label=weight pairs like yes=3,no=1.")
@impute_option
@reading_options
@max_categories_option
@keep_id_option
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@click.option("--threads", type=int, help="Threads for the kernels (default: all cores).")
@click.option("--memory-limit", "memory_limit_text", metavar="SIZE",
              help="Memory the encoded training rows may take, such as 256M or 8G "
                   "(default: half of the available memory); past it they go to a "
                   "temporary file that training reads a window at a time.")
@click.option("--dtype", type=click.Choice(list(DTYPES)), default=DEFAULTS.dtype,
              show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False),
              help="Model file to write (default: <data>.ncm, never overwriting).")
@click.option("--force", is_flag=True, help="Overwrite an existing model file.")
@click.option("--checkpoint", type=click.Path(dir_okay=False),
              help="Write a checkpoint to this file at the end of every epoch (see "
                   "--checkpoint-every), and when training stops; it is a model file that "
                   "also holds the state --resume continues from.")
@click.option("--checkpoint-every", type=int, default=1, show_default=True, metavar="N",
              help="Write the checkpoint every N epochs. Each write is synced to disk, "
                   "which takes milliseconds: more than a short epoch.")
@click.option("--resume", type=click.Path(dir_okay=False),
              help="Continue the run a checkpoint holds, on the same data and options "
                   "(--epochs: the run's total epochs); checkpoints go on to the same file "
                   "unless --checkpoint names another.")
@click.option("--distributed", is_flag=True,
              help="Train data-parallel over MPI (with the neuralcli[mpi] extra); implied "
                   "when mpirun, mpiexec or srun started the command. See "
                   "docs/distributed.md.")
@format_option(json_flag=True)
@click.pass_obj
def command(app, data, target, drop, task, hidden, activation, loss, optimizer, lr, epochs,
            batch_size, val_split, val_path, early_stopping, patience, schedule,
            weight_decay, dropout, clip_norm, class_weight_text, impute, delimiter, na_values,
            decimal, thousands, encoding, max_categories, keep_id, seed, threads,
            memory_limit_text, dtype,
            output, force, checkpoint, checkpoint_every, resume, distributed):
    """Train a network on DATA.csv (default: the built-in two spirals) and save it.

    DATA may be a .gz file, - for standard input, or a Parquet file (with the
    neuralcli[parquet] extra). The target is the last column unless
    --target says otherwise. Number columns are standardized; date columns become days
    since 1970 and the day of the week and month; text columns are categories (the
    --max-categories most frequent, the rest sharing one input); ID-like text columns are
    left out. The statistics come from the training rows and are stored in the model.
    Ctrl-C (or SIGTERM) stops within about 0.1 s, after the current run of batches, and
    saves the best model so far; the exit code is then 130 (143 for SIGTERM). With
    --checkpoint it also leaves a checkpoint of the last epoch that ended, which --resume
    continues: the resumed run ends with the weights of a run that was never stopped.

    Under mpirun (or with --distributed) N processes train one model together, each
    holding a share of the rows; the first process prints and saves the model and the
    checkpoints."""
    from neuralcli import distributed as dist
    from neuralcli.cli.app import TermAsInterrupt

    values = dict(click.get_current_context().params)
    comm = None
    if distributed or dist.launched():
        comm = _join(app)
    with _ranks(app, comm):
        ckpt = None
        if resume is not None:
            ckpt = _resumed(click.get_current_context(), values)
        with TermAsInterrupt() as term:
            _train(app, term, comm, **values, resumed=ckpt,
                   as_json=app.console.format == "json")


def _join(app):
    """The MPI world this process trains in; every process but the first writes nothing
    but its own unexpected errors (the first says the job's errors)."""
    from neuralcli import distributed as dist
    from neuralcli.cli.app import CliError, error_text
    from neuralcli.cli.console import Console

    try:
        comm = dist.world()
    except dist.DistributedError as err:
        raise CliError(str(err)) from None
    command = click.get_current_context().command
    comm.describe = lambda exc: error_text(exc, command)
    if comm.rank:
        quiet = open(os.devnull, "w")
        app.console = Console(color=False, quiet=True, out=quiet, err=quiet,
                              fmt=app.console.format)
    return comm


class _ranks:
    """Around a distributed command: an error another rank reported (PeerFailed) ends
    this one with its line (said by the first process alone) and exit code; an
    unexpected exception on one rank aborts the whole job (MPI_Abort), as
    `python -m mpi4py` does, since the other ranks may be waiting for this one."""

    def __init__(self, app, comm):
        self.app, self.comm = app, comm

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if self.comm is None or exc is None:
            return False
        import sys

        from neuralcli.cli.app import Stopped, user_errors
        from neuralcli.distributed import PeerFailed

        if isinstance(exc, PeerFailed):
            self.app.console.error(exc.line)
            raise click.exceptions.Exit(exc.exit_code)
        if isinstance(exc, (KeyboardInterrupt, Stopped, click.exceptions.Exit,
                            click.ClickException, *user_errors())):
            # every rank meets these alike (the same data, settings and reductions), or
            # the launcher ends the others when this one exits with an error
            return False
        print(f"error: rank {self.comm.rank}: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)
        self.comm.abort(1)
        return False


def _train(app, term, comm, data, target, drop, task, hidden, activation, loss, optimizer,
           lr, epochs, batch_size, val_split, val_path, early_stopping, patience, schedule,
           weight_decay, dropout, clip_norm, class_weight_text, impute, delimiter,
           na_values, decimal, thousands, encoding, max_categories, keep_id, seed, threads,
           memory_limit_text, dtype, output, force, checkpoint, checkpoint_every, resume,
           distributed, resumed, as_json):
    import contextlib
    import dataclasses

    from neuralcli.cli import report, source
    from neuralcli.cli.app import CliError, Stopped
    from neuralcli.errors import summarize_notes
    from neuralcli.model import TrainedModel
    from neuralcli.preprocess import check_max_categories
    from neuralcli.reader import load_builtin
    from neuralcli.spill import default_limit, parse_size

    console = app.console
    positive_int("--threads", threads)
    positive_int("--checkpoint-every", checkpoint_every)
    settings = Settings(
        hidden=hidden_sizes(hidden), activation=activation, loss=loss, optimizer=optimizer,
        lr=lr, epochs=epochs, batch_size=batch_size, val_split=val_split,
        early_stopping=early_stopping, patience=patience, schedule=schedule,
        weight_decay=weight_decay, dropout=dropout, clip_norm=clip_norm,
        class_weight=class_weight(class_weight_text), seed=seed, dtype=dtype)
    # the library's checks, before anything is read: a value out of range stops here, as
    # a usage error of its option (neuralcli.cli.app.option_error)
    settings.validate()
    check_max_categories(max_categories)
    if val_path:
        settings = dataclasses.replace(settings, val_split=0.0)

    reading = reading_kwargs(delimiter, na_values, decimal, thousands, encoding)
    if data is None:
        stem = "spirals"
    else:
        name = os.path.basename(data)
        if name.endswith(".gz"):
            name = name[:-3]
        stem = "model" if data == "-" else (os.path.splitext(name)[0] or "model")
    path = output or _fresh_name(f"{stem}.ncm")
    # a resumed run may replace its own model file, which its interruption left
    own = resumed is not None and os.path.abspath(path) == resumed.run.get("output")
    if comm is None:
        _check_writable(path, force or own, CliError)
    else:
        from neuralcli.distributed import agreed

        # the first process alone writes the model (and the checkpoints)
        agreed(comm, lambda: comm.rank or _check_writable(path, force or own, CliError))
    limit = (resumed and resumed.run.get("memory_limit")) or default_limit()
    if memory_limit_text is not None:
        try:
            limit = parse_size(memory_limit_text)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--memory-limit") from None
    fit = dict(target=target, drop=drop, impute=impute, task=task, threads=threads,
               max_categories=max_categories, keep=keep_id, resume=resumed)
    if checkpoint is not None:
        from neuralcli.checkpoint import Plan

        if (resume is None or os.path.abspath(checkpoint) != os.path.abspath(resume)) \
                and (comm is None or comm.rank == 0):
            _check_writable(checkpoint, force, CliError)
        if os.path.abspath(checkpoint) == os.path.abspath(path):
            raise CliError(f"--checkpoint {checkpoint} is the model file (-o); give the "
                           f"checkpoint another name")
        values = dict(click.get_current_context().params)
        run = {"data": data if data in (None, "-") else os.path.abspath(data),
               "output": os.path.abspath(path), "memory_limit": limit,
               "every": checkpoint_every,
               "options": {k: _json(k, values[k]) for k in values if k not in RESUME_FREE}}
        if resumed is not None:
            # the options the run started with, but for its new length
            run["options"] = {**resumed.run["options"], "epochs": epochs}
        fit["checkpoint"] = Plan(checkpoint, checkpoint_every, run)
    if comm is not None:
        fit["comm"] = comm
        if threads is None:
            fit["threads"] = comm.default_threads()
    cb = report.TrainProgress(console)
    if resumed is not None:
        console.note(f"resuming the run in {resume} after epoch {resumed.state.epoch}, "
                     f"to epoch {epochs}")

    def announce(n_rows, n_columns, where, notes):
        rows = "1 row" if n_rows == 1 else f"{n_rows:,} rows"
        cols = "1 column" if n_columns == 1 else f"{n_columns:,} columns"
        console.note(f"data: {where}: {rows}, {cols}")
        for note in summarize_notes(notes):
            console.note(note)

    if data is None or source.is_parquet(data):
        if data is None:
            table = load_builtin("spirals")
            if resumed is None:
                console.note("no data given: training on the built-in two spirals "
                             "(500 points); pass a CSV file to use your own")
        else:
            table = source.read(console, data, reading)
        val_table = source.read(console, val_path, reading) if val_path else None
        announce(table.n_rows, table.n_columns, table.path, table.notes)
        model, state = TrainedModel.fit(table, settings, val_table=val_table,
                                        callbacks=[cb], **fit)
    else:
        with contextlib.ExitStack() as stack:
            scan = stack.enter_context(source.scan(data, reading))
            val_scan = stack.enter_context(source.scan(val_path, reading)) \
                if val_path else None
            model, state = TrainedModel.fit_file(
                scan, settings, val_scan=val_scan, callbacks=[cb], memory_limit=limit,
                announce=lambda: announce(scan.n_rows, len(scan.names), scan.path,
                                          scan.last_notes),
                passes=lambda label: source.progress(console, data, label), **fit)
    # from here SIGTERM and Ctrl-C are only recorded: the model is saved, then the command
    # ends as the signal asked
    term.hold()
    for note in model.info["notes"]:
        console.note(note)
    if state.stop_reason == "diverged" and not state.best_epoch:
        # the weights are the untrained ones, not worth a model file
        raise CliError(f"{state.message}; no model was saved")
    stopped = "terminated (SIGTERM)" if term.terminated else "interrupted"
    if not state.history and state.stop_reason == "interrupted":
        # no epoch finished: the weights are the untrained ones, not worth a model file
        console.warn(f"{stopped} in epoch 1, before it ended: no model was saved")
        raise Stopped(term.terminated)
    if comm is not None and comm.rank:
        # the other ranks hold the same weights; the first process saves and reports.
        # They wait for its save: a launcher ends the job when any process exits with
        # an error (130 after Ctrl-C, say), which would cut the save short
        comm.comm.Barrier()
        if state.stop_reason == "interrupted" or term.received:
            raise Stopped(term.terminated)
        if state.stop_reason == "diverged":
            raise CliError(state.message)
        return
    _check_writable(path, force or own, CliError)  # it may have appeared meanwhile
    model.save(path)
    if comm is not None:
        comm.comm.Barrier()     # the model is saved: the other ranks may end
    if checkpoint is not None and state.fit_state is not None:
        done = state.fit_state.epoch
        if state.stop_reason in ("interrupted", "stopped") or term.received:
            console.note(f"checkpoint: {checkpoint} holds the run after epoch {done}; "
                         f"continue it with: neuralcli train --resume {checkpoint}")
        else:
            console.note(f"checkpoint: {checkpoint} holds the run after epoch {done}")
    signal = ("SIGTERM" if term.terminated else "SIGINT") if term.received else None
    report.training_summary(console, model, state, path, as_json=as_json, signal=signal)
    if state.stop_reason == "interrupted" or term.received:
        raise Stopped(term.terminated)
    if state.stop_reason == "diverged":
        raise CliError(f"{state.message}; the model of epoch {state.best_epoch} was saved "
                       f"to {path}")


def _resumed(ctx, values):
    """The Checkpoint that --resume names, with `values` (the command's parameters) set
    to the options of the run it holds: an option given again must have the value the
    run started with (only those of RESUME_FREE may change). DATA and -o default to the
    run's, and checkpoints go on to the same file."""
    from click.core import ParameterSource

    from neuralcli.checkpoint import Checkpoint
    from neuralcli.cli.app import CliError

    ckpt = Checkpoint.read(values["resume"])
    run = ckpt.run
    params = {p.name: p for p in ctx.command.params}
    for name, then in run.get("options", {}).items():
        if name in RESUME_FREE or name not in params:
            continue
        given = ctx.get_parameter_source(name) not in (ParameterSource.DEFAULT,
                                                       ParameterSource.DEFAULT_MAP)
        if not given or _as_decided(name, values[name], ckpt.model):
            values[name] = tuple(then) if params[name].multiple else then
        elif name != "epochs" and not _same_option(name, values[name], then):
            flag = max(params[name].opts, key=len)
            raise CliError(f"{flag} {_shown(values[name])} differs from the run in "
                           f"{ckpt.path}, which has {_shown(then)}; a resumed run keeps its "
                           f"options (--epochs, --threads, --memory-limit, -o and the "
                           f"checkpoint's may change)")
    if values["data"] is None:
        if run.get("data") == "-":
            raise CliError(f"the run in {ckpt.path} read standard input; pass - and the "
                           f"same rows again")
        values["data"] = run.get("data")
    if values["output"] is None and run.get("output"):
        values["output"] = run["output"]
    if values["checkpoint"] is None:
        values["checkpoint"] = values["resume"]
        if ctx.get_parameter_source("checkpoint_every") == ParameterSource.DEFAULT:
            values["checkpoint_every"] = int(run.get("every", 1))
    return ckpt


def _same_option(name, now, then):
    """Whether an option's value now is the one a run started with (compared as the
    command reads it: --hidden and --class-weight parsed)."""
    from neuralcli.cli.options import class_weight, hidden_sizes

    parse = {"hidden": hidden_sizes, "class_weight_text": class_weight}.get(name)
    if parse is not None:
        return parse(now) == parse(then)
    return _json(name, now) == then


def _as_decided(name, now, model):
    """Whether --target or --task names what the run decided when it was left out."""
    return (name == "target" and now == model.pre.target) or \
        (name == "task" and now == model.task)


def _json(name, value):
    """An option's value as a checkpoint records it: lists for repeated options, and the
    validation file as an absolute path (a resumed run may start elsewhere)."""
    if name == "val_path" and value not in (None, "-"):
        return os.path.abspath(value)
    return list(value) if isinstance(value, tuple) else value


def _shown(value):
    if isinstance(value, (list, tuple)):
        return ",".join(map(str, value)) or "(none)"
    return "(none)" if value is None else str(value)


def _fresh_name(name):
    """name, or name-2, name-3... : a default output never replaces an existing file."""
    if not os.path.exists(name):
        return name
    stem, ext = os.path.splitext(name)
    k = 2
    while os.path.exists(f"{stem}-{k}{ext}"):
        k += 1
    return f"{stem}-{k}{ext}"


def _check_writable(path, force, error):
    if os.path.isdir(path):
        raise error(f"{path} is a directory; give a file name with -o")
    if os.path.exists(path) and not force:
        raise error(f"{path} already exists; pass --force to overwrite it or choose "
                    f"another name with -o")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise error(f"cannot write {path}: the directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise error(f"cannot write {path}: no permission to write in {parent}")
