"""How the commands open DATA: a CSV file (also .gz, or - for standard input) read with
progress, or a Parquet file; one place, so every command reads alike."""
import contextlib
import os

from neuralcli.errors import summarize_notes


def is_parquet(data):
    from neuralcli import parquet

    return data not in (None, "-") and os.path.isfile(data) and parquet.is_parquet(data)


def _total(data):
    """The bytes a progress bar counts to: a plain file's size (None for a stream or a
    compressed file, whose decompressed size is not known)."""
    if data in (None, "-") or str(data).lower().endswith(".gz"):
        return None
    try:
        return os.path.getsize(data)
    except OSError:
        return None


@contextlib.contextmanager
def progress(console, data, what="reading"):
    """A progress(bytes_done) callback drawing the console's reading bar."""
    with console.reading(f"{data}" if what == "reading" else f"{data} ({what})",
                         _total(data)) as bar:
        yield bar.update


def read(console, data, reading, **fixed):
    """DATA as a Table held in memory; fixed: read_table's kinds and formats, for a CSV
    file."""
    if is_parquet(data):
        from neuralcli.parquet import read_parquet

        with console.reading(data, None) as bar:
            def rows_done(done, rows):
                bar.update(done, rows=done)
            return read_parquet(data, progress=rows_done)
    from neuralcli.reader import read_table

    with progress(console, data) as update:
        return read_table(data, progress=update, **reading, **fixed)


def scan(data, reading, *, kinds=None, formats=None, progress=None):
    """DATA as a reader.Scan, to be read in chunks (a CSV source only)."""
    from neuralcli.reader import Scan

    return Scan(data, kinds=kinds, formats=formats, progress=progress, **reading)


def model_tables(console, data, reading, model):
    """DATA for a trained model, a Table at a time: the chunks of a CSV file, read with
    the kinds the model was trained on (a column it reads as numbers is read as numbers),
    or a Parquet file whole. The reader's notes are printed once the file is read."""
    if is_parquet(data):
        table = read(console, data, reading)
        for note in summarize_notes(table.notes):
            console.note(note)
        yield table
        return
    from neuralcli import stream

    with scan(data, reading, kinds=model.pre.input_kinds(),
              formats=model.pre.input_formats()) as sc:
        yield from stream.chunks(sc, lambda label: progress(console, data))
        for note in summarize_notes(sc.last_notes):
            console.note(note)
