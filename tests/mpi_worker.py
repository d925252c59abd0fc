"""Run by tests/test_distributed.py under mpirun: trains one model data-parallel through
the library (TrainedModel.fit_file with the MPI world) and writes, for each rank, the
SHA-256 of its weights at every epoch end and at the end, its history, and (rank 0) the
final weights.

    mpirun -n N python mpi_worker.py DATA.csv OUT_PREFIX EPOCHS BATCH SEED VAL_SPLIT
"""
import hashlib
import json
import sys

import numpy as np

from neuralcli import distributed
from neuralcli.model import Settings, TrainedModel
from neuralcli.reader import Scan
from neuralcli.training import Callback


def digest(params):
    return hashlib.sha256(np.ascontiguousarray(params).tobytes()).hexdigest()


def main(data, prefix, epochs, batch, seed, val_split):
    comm = distributed.world()
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
                                             threads=1, comm=comm)
    report = {"rank": comm.rank, "size": comm.size, "epoch_hashes": hashes,
              "final": digest(model.net.params), "history": [
                  {k: v for k, v in h.items() if k != "time"} for h in state.history],
              "rows_train": model.info["rows_train"], "rows_val": model.info["rows_val"],
              "train_metric": model.info["final"]["train_metric"]}
    with open(f"{prefix}.{comm.rank}.json", "w") as f:
        json.dump(report, f)
    if comm.rank == 0:
        np.save(f"{prefix}.npy", model.net.params)


if __name__ == "__main__":
    main(*sys.argv[1:])
