"""The known mutations: bugs that once slipped past the whole suite, put back one at a
time into a copy of the installed package; each must make its tests fail.

    python tests/mutation/known.py            # all of them
    python tests/mutation/known.py --list

The copy is the package this interpreter imports (an installed one, or a source tree
built in place), so the compiled core comes along and nothing is rebuilt. Each mutant's
tests run with that copy first on sys.path; a mutant is killed when they fail. Exit
status 1 if any mutant survives or a mutation no longer applies to the source (the code
moved: update the entry). The C core's mutants are in c_mutants.py."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str       # inside the package
    old: str        # must occur exactly once
    new: str
    tests: tuple    # test ids, relative to tests/


KNOWN = (
    Mutant("Adam's step counter frozen at 1 (bias correction never decays)",
           "optim.py",
           "self.weight_decay, self.t, self.decoupled, scale)",
           "self.weight_decay, 1, self.decoupled, scale)",
           ("test_training_oracle.py::test_optimizer_class_steps_match_oracle",)),
    Mutant("the optimizer's step counter never advances",
           "optim.py", "        self.t += 1\n", "        self.t = 1\n",
           ("test_training_oracle.py::test_optimizer_class_steps_match_oracle",)),
    Mutant("R^2's target mean ignores the sample weights",
           "metrics.py",
           "mean = (w[:, None] * y).sum(axis=0) / ws",
           "mean = y.mean(axis=0)",
           ("test_training_oracle.py::test_r2_with_sample_weight_matches_sklearn_in_any_chunks",
            "test_training_oracle.py::test_evaluate_r2_with_sample_weight_matches_sklearn")),
    Mutant("validation_split never stratifies",
           "training.py", "    if labels is None:\n        val = np.sort(",
           "    if True:\n        val = np.sort(",
           ("test_training_oracle.py::test_validation_split_stratifies_by_class",)),
    # one formula serves both: each test must see the mutation on its own path
    Mutant("--class-weight balanced inverted (k*counts/n)",
           "head.py",
           "return counts.sum() / (len(counts) * np.maximum(counts, 1))",
           "return (len(counts) * np.maximum(counts, 1)) / counts.sum()",
           ("test_training_oracle.py::test_model_balanced_class_weight_is_n_over_k_counts",)),
    Mutant("class_weight='balanced' inverted in the estimators",
           "head.py",
           "return counts.sum() / (len(counts) * np.maximum(counts, 1))",
           "return (len(counts) * np.maximum(counts, 1)) / counts.sum()",
           ("test_training_oracle.py::test_estimator_balanced_class_weight_is_n_over_k_counts",)),
    Mutant("gradient clipping to half the norm",
           "training.py",
           "scale = s * self.cfg.clip_norm / norm",
           "scale = s * 0.5 * self.cfg.clip_norm / norm",
           ("test_training.py::test_clipping_sets_the_update_norm",)),
)


def package_dir():
    import neuralcli

    return os.path.dirname(os.path.abspath(neuralcli.__file__))


def run_mutant(m, src, timeout):
    """'killed', 'survived' or 'stale' (the source no longer holds m.old once)."""
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, "neuralcli")
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        target = os.path.join(dst, m.path)
        with open(target) as f:
            text = f.read()
        if text.count(m.old) != 1:
            return "stale"
        with open(target, "w") as f:
            f.write(text.replace(m.old, m.new))
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [tmp] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        env.pop("NEURALCLI_SKIP_REPORT", None)
        ids = [os.path.join(TESTS, t) for t in m.tests]
        # run from the copy's directory, so no source checkout in the working directory
        # shadows it
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *ids]
        try:
            out = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            return "killed"
        if out.returncode == 0:
            return "survived"
        if out.returncode in (4, 5):  # usage error or nothing collected: a stale test id
            sys.stdout.write(out.stdout[-2000:] + out.stderr[-2000:])
            return "stale"
        return "killed"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mutant")
    args = ap.parse_args(argv)
    if args.list:
        for m in KNOWN:
            print(f"{m.path}: {m.name}")
        return 0
    src = package_dir()
    bad = 0
    for m in KNOWN:
        t0 = time.monotonic()
        verdict = run_mutant(m, src, args.timeout)
        bad += verdict != "killed"
        print(f"{verdict:9s} {m.path}: {m.name} ({time.monotonic() - t0:.1f} s)", flush=True)
    print(f"{len(KNOWN) - bad} of {len(KNOWN)} known mutants killed")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
