"""From a CSV file to a saved model with the peers' own tools, as a user writes it:
pandas.read_csv, then scikit-learn's MLPClassifier fit and a pickle, or a PyTorch loop
and torch.save. The training benchmark runs this file in a fresh interpreter per
measurement (through runpy, so that the interpreter imports pandas and the peer's library
but nothing of neuralcli) and times the whole process from outside.

    python csv_peers.py sklearn|torch FILE OUTDIR --epochs 5 --batch 256 --lr 0.001

The label is the column named `label`; every other column is a float feature. The
network is the one `neuralcli train --hidden 64,64` builds: ReLU hidden layers, one logit,
binary cross-entropy on it, Adam. Prints a JSON line with the phases' seconds and the
process's peak resident size.
"""
import argparse
import json
import os
import pickle
import time
import warnings


def _peak_rss():
    """VmHWM in bytes (the address space's own peak, which exec starts anew)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _read(path):
    import numpy as np
    import pandas as pd     # imported before the clock starts, in main

    df = pd.read_csv(path)
    y = df["label"].to_numpy()
    X = df.drop(columns="label").to_numpy(dtype=np.float32)
    return X, y


def sklearn_classifier(hidden, epochs, batch, lr, seed):
    """scikit-learn's MLPClassifier for `epochs` full epochs: adam, no L2 penalty, no
    held-out rows, no stopping before max_iter."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam",
                         alpha=0.0, batch_size=batch, learning_rate_init=lr,
                         max_iter=epochs, shuffle=True, random_state=seed, tol=0.0,
                         n_iter_no_change=10**9, early_stopping=False)


def timed_fit(clf, X, y, epochs):
    """Seconds of clf.fit(X, y), checking that it ran `epochs` epochs over every row (an
    estimator that held rows out for validation, or stopped early, would fail here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # max_iter reached: a ConvergenceWarning
        t0 = time.perf_counter()
        clf.fit(X, y)
        seconds = time.perf_counter() - t0
    if clf.n_iter_ != epochs or clf.t_ != epochs * len(X):
        raise RuntimeError(f"{type(clf).__module__}.{type(clf).__name__} ran {clf.n_iter_} "
                           f"epochs over {clf.t_} samples, not {epochs} over {len(X)} rows")
    return seconds


def torch_network(n_features, hidden, seed):
    """nn.Sequential of Linear and ReLU, one logit out, seeded."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    sizes = [n_features, *hidden, 1]
    layers = []
    for i, (c, oc) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(c, oc))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def torch_train(model, X, y, epochs, batch, lr):
    """Seconds of `epochs` epochs of the plain PyTorch loop over pre-made tensors: per
    epoch one torch.randperm, then per batch an index gather, zero_grad, forward,
    BCEWithLogitsLoss, backward and an Adam step."""
    import numpy as np
    import torch
    from torch import nn

    xt = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    yt = torch.from_numpy(np.asarray(y, dtype=np.float32).reshape(-1, 1))
    loss_fn = nn.BCEWithLogitsLoss()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(xt)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    return time.perf_counter() - t0


def sklearn_model(X, y, out, hidden, epochs, batch, lr, seed):
    clf = sklearn_classifier(hidden, epochs, batch, lr, seed)
    fit_s = timed_fit(clf, X, y, epochs)
    t0 = time.perf_counter()
    with open(os.path.join(out, "model.pkl"), "wb") as f:
        pickle.dump(clf, f)
    return fit_s, time.perf_counter() - t0


def torch_model(X, y, out, hidden, epochs, batch, lr, seed):
    import torch

    model = torch_network(X.shape[1], hidden, seed)
    fit_s = torch_train(model, X, y, epochs, batch, lr)
    t0 = time.perf_counter()
    torch.save(model.state_dict(), os.path.join(out, "model.pt"))
    return fit_s, time.perf_counter() - t0


PEERS = {"sklearn": sklearn_model, "torch": torch_model}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("peer", choices=sorted(PEERS))
    ap.add_argument("path")
    ap.add_argument("out", help="directory the model is written to")
    ap.add_argument("--hidden", default="64,64")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (the BLAS pools "
                                                "take OMP_NUM_THREADS and the like)")
    args = ap.parse_args(argv)
    if args.peer == "torch" and args.threads:
        import torch

        torch.set_num_threads(args.threads)
    import pandas  # noqa: F401  (so that "read_s" is the read, not the import)

    t0 = time.perf_counter()
    X, y = _read(args.path)
    read_s = time.perf_counter() - t0
    hidden = tuple(int(h) for h in args.hidden.split(","))
    fit_s, save_s = PEERS[args.peer](X, y, args.out, hidden, args.epochs, args.batch,
                                     args.lr, args.seed)
    print(json.dumps({"rows": len(X), "read_s": read_s, "fit_s": fit_s, "save_s": save_s,
                      "peak_rss": _peak_rss()}), flush=True)


if __name__ == "__main__":
    main()
