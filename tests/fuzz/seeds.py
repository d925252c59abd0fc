#!/usr/bin/env python3
"""Write the seed corpora of tests/fuzz/corpus/ (checked in; rerun after the model format
or a target's input layout changes):

    python tests/fuzz/seeds.py

Each seed is a case as its target reads it (tests/fuzz/targets.py): the option bytes,
then the data.
"""
import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from targets import COMMANDS, DELIMITERS, ENCODINGS, NUMBER_WORDS  # noqa: E402

CSVS = {
    "plain": b"age,income,city,bought\n34,52.5,paris,yes\n51,,rome,no\n29,40.25,oslo,yes\n",
    "quoted": b'id,note,x\n1,"a, b",2\n2,"line one\nline two",3\n3,"say ""hi""",4\n',
    "crlf_bom": b"\xef\xbb\xbfa;b\r\n1,5;2\r\n3,25;4\r\n",
    "formats": b"price;share;when\n\"1.234,50 \xe2\x82\xac\";12%;2024-01-05\n"
               b"\"99,00 \xe2\x82\xac\";7%;2024-02-29T10:00:00\n",
    "missing": b"a|b|c\nNA|1|x\n2|?|null\n|3|\n4|N/A|y\n",
    "ragged": b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n",
    "unclosed": b'a,b\n1,"open\n2,3\n',
    "latin1": b"name,score\nJos\xe9,1\nZo\xeb,2\n",
    "numbers": b"x,y\n1e308,-0\n1e400,inf\nnan,0x10\n.5,5.\n",
    "noheader": b"1,2\n3,4\n5,6\n",
}


def csv_seed(mode, delim, enc, body, block=7, threads=2, na=None):
    out = bytes([mode, DELIMITERS.index(delim), ENCODINGS.index(enc), 0, 0])
    if na is None:
        out += b"\0"
    else:
        raw = na.encode()
        out += b"\1" + bytes([len(raw) << 1]) + raw
    return out + bytes([0, threads - 1, block & 0xff, block >> 8, 3, 0]) + body


def csv_corpus(d):
    seeds = {f"{name}": csv_seed(0, None, None, body) for name, body in CSVS.items()}
    seeds["chunks_plain"] = csv_seed(1, None, None, CSVS["plain"], block=1)
    seeds["chunks_quoted"] = csv_seed(1, ",", None, CSVS["quoted"], block=5)
    seeds["gzip_missing"] = csv_seed(3, "|", None, CSVS["missing"], na="NA,?,null")
    seeds["latin1_given"] = csv_seed(0, None, "latin-1", CSVS["latin1"], block=3)
    seeds["utf16"] = csv_seed(0, None, None, CSVS["plain"].decode().encode("utf-16"))
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def model_corpus(d):
    import numpy as np

    from neuralcli.estimators import MLPClassifier
    from neuralcli.model import Settings, TrainedModel
    from neuralcli.table import DateColumn, NumberColumn, Table, TextColumn

    rng = np.random.default_rng(0)
    n = 24
    x = rng.normal(size=n)
    city = rng.integers(0, 3, size=n).astype(np.int32)
    day = np.arange(n, dtype=np.float64) + 19000
    miss = np.zeros(n, dtype=bool)
    miss[3] = True
    settings = Settings(hidden=[3], epochs=2, batch_size=8, early_stopping=False,
                        val_split=0.0)
    cases = {
        "classifier": ["no", "yes"], "regression": None, "multiclass": ["a", "b", "c"]}
    for name, labels in cases.items():
        if labels is None:
            target = NumberColumn(x * 2 + 1, np.zeros(n, dtype=bool))
        else:
            target = TextColumn((np.arange(n) % len(labels)).astype(np.int32), labels)
        table = Table(["x", "city", "day", "y"],
                      [NumberColumn(x, miss), TextColumn(city, ["oslo", "paris", "rome"]),
                       DateColumn(day, np.zeros(n, dtype=bool)), target])
        model, _ = TrainedModel.fit(table, settings, impute="mean")
        path = os.path.join(d, "tmp.ncm")
        model.save(path)
        _write_model_seeds(d, name, path)
    # a checkpoint, as train --checkpoint writes it
    from click.testing import CliRunner

    from neuralcli.cli import cli

    data = os.path.join(d, "tmp.csv")
    with open(data, "w") as f:
        f.write("x,c,y\n" + "".join(f"{i % 7},{'ab'[i % 2]},{i % 3}\n" for i in range(24)))
    ckpt = os.path.join(d, "tmp.ckpt")
    result = CliRunner().invoke(cli, ["train", data, "--epochs", "2", "--hidden", "3",
                                      "--checkpoint", ckpt, "-o", os.path.join(d, "t.ncm")])
    assert result.exit_code == 0, result.output
    _write_model_seeds(d, "checkpoint", ckpt)
    for name in ("tmp.csv", "tmp.ckpt", "t.ncm"):
        os.unlink(os.path.join(d, name))
    est = MLPClassifier(hidden_layer_sizes=(3,), max_iter=2, random_state=0)
    est.fit(rng.normal(size=(20, 2)), np.arange(20) % 2)
    path = os.path.join(d, "tmp.ncm")
    est.save(path)
    _write_model_seeds(d, "estimator", path)
    os.unlink(path)


def _write_model_seeds(d, name, path):
    with open(path, "rb") as f:
        blob = f.read()
    hlen = struct.unpack_from("<Q", blob, 12)[0]
    header = blob[20:20 + hlen]
    start = -(-(20 + hlen) // 64) * 64
    section = blob[start:-32]
    json.loads(header)
    with open(os.path.join(d, f"{name}_file"), "wb") as f:
        f.write(b"\0" + blob)
    with open(os.path.join(d, f"{name}_parts"), "wb") as f:
        f.write(b"\2" + header + b"\0" + section)


def options_corpus(d):
    def text(s):
        raw = s.encode()
        return bytes([len(raw) << 1]) + raw

    def choice(value):
        return bytes([0, NUMBER_WORDS.index(value)])

    seeds = {}
    for c, (prefix, options) in enumerate(COMMANDS):
        good = {"--hidden": "16,8", "--memory-limit": "256M", "--class-weight": "yes=3,no=1",
                "--na-values": "NA,-", "--delimiter": ",", "--thousands": "'",
                "--encoding": "latin-1", "--head": "2", "--inputs": "1,2",
                "--weights": "0.5,-1", "--bias": "0.1", "--lrs": "0.1,0.5",
                "--target": "b"}
        for k, opt in enumerate(options):
            value = good.get(opt)
            data = bytes([c, 0, k]) + (bytes([2]) + text(value) if value else choice("1.5"))
            seeds[f"{prefix[0]}_{opt.strip('-')}"] = data
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def main():
    for name, write in (("csv", csv_corpus), ("model", model_corpus),
                        ("options", options_corpus)):
        d = os.path.join(HERE, "corpus", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        write(d)
        print(f"{d}: {len(os.listdir(d))} seeds")


if __name__ == "__main__":
    main()
