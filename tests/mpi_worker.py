"""Run by tests/test_distributed.py under mpirun: trains one model data-parallel through
the library (TrainedModel.fit_file with the MPI world) and writes, for each rank, the
SHA-256 of its weights at every epoch end and at the end, its history, the bytes and rows
of the file it parsed, the SHA-256 of its preprocessing, and (rank 0) the final weights.

    mpirun -n N python mpi_worker.py DATA.csv OUT_PREFIX EPOCHS BATCH SEED VAL_SPLIT [RANGES]

RANGES 0: every rank reads the whole file (the default, 1: each its byte range).
"""
import hashlib
import json
import sys

import numpy as np

from neuralcli import csvparse, distributed
from neuralcli.model import Settings, TrainedModel
from neuralcli.reader import Scan
from neuralcli.training import Callback


def digest(params):
    return hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


def preprocessing_digest(pre):
    from neuralcli.checkpoint import _canon

    meta, arrays = pre.to_meta()
    h = hashlib.sha256(_canon(meta).encode())
    for k in sorted(arrays):
        h.update(k.encode())
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    return h.hexdigest()


def main(data, prefix, epochs, batch, seed, val_split, ranges="1"):
    comm = distributed.world()
    parsed = {"bytes": 0, "rows": 0}
    fill, columns = csvparse._fill, csvparse._columns

    def counted_fill(*args):
        n = fill(*args)
        parsed["bytes"] += n
        return n

    def counted_columns(*args, **kw):
        out = columns(*args, **kw)
        parsed["rows"] += len(out[1])
        return out

    csvparse._fill, csvparse._columns = counted_fill, counted_columns
    trainers = []
    made = distributed.DistributedTrainer.__init__

    def keep(self, *args, **kw):
        made(self, *args, **kw)
        trainers.append(self)

    distributed.DistributedTrainer.__init__ = keep
    hashes = []

    class Hashes(Callback):
        def on_epoch_end(self, state, logs):
            hashes.append(digest(trainers[0].model.params))

    settings = Settings(hidden=[16, 16], epochs=int(epochs), batch_size=int(batch),
                        seed=int(seed), val_split=float(val_split), early_stopping=False)
    with Scan(data) as scan:
        model, state = TrainedModel.fit_file(scan, settings, callbacks=[Hashes()],
                                             threads=1, comm=comm,
                                             ranges=ranges == "1")
    report = {"rank": comm.rank, "size": comm.size, "epoch_hashes": hashes,
              "final": digest(model.net.params), "history": [
                  {k: v for k, v in h.items() if k != "time"} for h in state.history],
              "rows_train": model.info["rows_train"], "rows_val": model.info["rows_val"],
              "train_metric": model.info["final"]["train_metric"],
              "parsed": parsed, "preprocessing": preprocessing_digest(model.pre)}
    with open(f"{prefix}.{comm.rank}.json", "w") as f:
        json.dump(report, f)
    if comm.rank == 0:
        np.save(f"{prefix}.npy", model.net.params)


if __name__ == "__main__":
    main(*sys.argv[1:])
