"""Mutation testing of the model layer's arithmetic with mutmut: which mutants count, the
ones left alive as equivalent (with the reason), and the score.

    python setup.py build_ext --inplace      # mutmut copies the built package
    python tests/mutation/python_mutants.py run      # mutmut run over the scope below
    python tests/mutation/python_mutants.py score    # the table for tests/README.md

pyproject.toml's [tool.mutmut] names the files; SCOPE narrows estimators.py to how the
estimators score, predict and weigh (not their persistence, parameter plumbing or
scikit-learn tags). `score` reads mutmut's results in mutants/ and exits 1 when fewer
than TARGET of the counted mutants are killed. Mutant names carry a number per function,
so after editing a function, re-check the EQUIVALENT entries that name it."""
import argparse
import ast
import fnmatch
import glob
import json
import os
import re
import subprocess
import sys
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = 0.90

SCOPE = [
    "neuralcli.optim.*",
    "neuralcli.losses.*",
    "neuralcli.metrics.*",
    "neuralcli.training.*",
    "neuralcli.schedules.*",
    "neuralcli.preprocess.*",
    # the estimators: scoring, prediction, targets and weights
    "neuralcli.estimators.xǁ_SkRegressorǁscore__mutmut_*",
    "neuralcli.estimators.xǁ_SkClassifierǁscore__mutmut_*",
    "neuralcli.estimators.xǁ_BaseMLPǁ_forward__mutmut_*",
    "neuralcli.estimators.xǁ_BaseMLPǁ_record__mutmut_*",
    "neuralcli.estimators.xǁMLPClassifierǁ*",
    "neuralcli.estimators.xǁMLPRegressorǁ*",
]
# ... except what is not arithmetic: the estimators' fitting plumbing and tags, and the
# preprocessing's sentences for people (as raise and warning messages are left out in
# pyproject.toml)
OUT_OF_SCOPE = [
    "neuralcli.preprocess.x_date_text__mutmut_*",
    "neuralcli.preprocess.x__count__mutmut_*",
    "neuralcli.preprocess.xǁTaskDecisionǁ__repr____mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁdescribe__mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁencoding__mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁ_how__mutmut_*",
    "neuralcli.preprocess.xǁPreprocessorǁfill_notes__mutmut_*",
    "neuralcli.estimators.xǁ*ǁ__init____mutmut_*",
    "neuralcli.estimators.xǁ*ǁ__sklearn_tags____mutmut_*",
    "neuralcli.estimators.xǁ*ǁfit__mutmut_*",
    "neuralcli.estimators.xǁ*ǁpartial_fit__mutmut_*",
    "neuralcli.estimators.xǁ*ǁ_n_outputs_for__mutmut_*",
    "neuralcli.estimators.xǁ*ǁ_task_kind__mutmut_*",
]

_F64 = "astype(None) is astype(float64)"
_NEG = "numpy reads any negative size in reshape as the one unknown dimension"
_SGD = ("the compiled SGD step reads momentum, weight decay, Nesterov and its velocity only "
        "(train_optimize in csrc/train_impl.h)")
_RMS = ("the compiled RMSprop step reads alpha, eps, weight decay, momentum and its two "
        "buffers only (train_optimize in csrc/train_impl.h)")
_ADAM = ("the compiled Adam step reads beta1, beta2, eps, weight decay, the step and "
         "decoupled only (train_optimize in csrc/train_impl.h)")
_KINDS = "dtype kinds are single letters, and 'X' is none: the same letters still match"
_TOTAL = ("the total weight is never 0 here: weights summing to 0 are refused and "
          "unweighted rows count 1 each")
_YPRED = ("y_pred only enters as yt - yp with yt float64, which numpy computes in float64 "
          "for any numeric y_pred")
_CLIP = ("after the renormalisation that follows, clipping a probability of 1 at 1 - eps "
         "or not changes the loss by O(eps^2), below float64's resolution of it")
_SORT = ("only the order inside a group of equal scores changes, and each group's weights "
         "are summed as one: at most the last bit of that sum")

# mutant name -> why no test can tell it from the original
EQUIVALENT = {
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_9":
        "1-D binary targets: Trainer._prepare reshapes 1-D targets to (N, 1)",
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_10": _F64,
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_12": _NEG,
    "neuralcli.estimators.xǁMLPClassifierǁ_encode_targets__mutmut_14":
        "float64 class codes: Trainer._prepare casts labels to int32 for cross-entropy",
    "neuralcli.estimators.xǁMLPClassifierǁ_fold_class_weight__mutmut_12": _F64,
    "neuralcli.estimators.xǁMLPClassifierǁ_fold_class_weight__mutmut_16":
        "without minlength bincount drops only trailing classes absent from y, whose "
        "weights are never looked up; the formula divides by len(classes_)",
    "neuralcli.estimators.xǁMLPRegressorǁ_encode_targets__mutmut_6": _NEG,
    "neuralcli.estimators.xǁMLPRegressorǁ_targets__mutmut_4": _KINDS,
    "neuralcli.estimators.xǁMLPRegressorǁ_targets__mutmut_7": _F64,
    "neuralcli.estimators.xǁMLPRegressorǁ_targets__mutmut_9": _F64,
    "neuralcli.estimators.xǁ_BaseMLPǁ_forward__mutmut_10": _F64,
    "neuralcli.metrics.x__binary_auc__mutmut_7": _SORT,
    "neuralcli.metrics.x__binary_auc__mutmut_9": _SORT,
    "neuralcli.metrics.x__binary_auc__mutmut_11": "numpy reads the sort kind's name in any "
                                                   "case",
    "neuralcli.metrics.x__confusion__mutmut_16": _F64,
    "neuralcli.metrics.x__counts__mutmut_5": _F64,
    "neuralcli.metrics.x__divide__mutmut_3": "num is always float64 (counts of a float64 "
                                             "confusion matrix)",
    "neuralcli.metrics.x__divide__mutmut_5": "num is always float64 (counts of a float64 "
                                             "confusion matrix)",
    "neuralcli.metrics.x__labels__mutmut_22": _KINDS,
    "neuralcli.metrics.x__prf__mutmut_30": _TOTAL,
    "neuralcli.metrics.x__prf__mutmut_37": _TOTAL,
    "neuralcli.metrics.x__prf__mutmut_39": _TOTAL,
    "neuralcli.metrics.x__targets__mutmut_8": _YPRED,
    "neuralcli.metrics.x__targets__mutmut_10": _YPRED,
    "neuralcli.metrics.x_accuracy__mutmut_18": _F64,
    "neuralcli.metrics.x_baseline_regression__mutmut_31": "the mean becomes y_pred, which "
                                                          "_targets reads as float64",
    "neuralcli.metrics.x_baseline_regression__mutmut_33": "the mean becomes y_pred, which "
                                                          "_targets reads as float64",
    "neuralcli.metrics.x_log_loss__mutmut_20": _CLIP,
    "neuralcli.metrics.x_log_loss__mutmut_24": _CLIP,
    "neuralcli.metrics.x_log_loss__mutmut_25": _CLIP,
    "neuralcli.metrics.x_roc_auc__mutmut_37":
        "without minlength bincount drops only trailing classes absent from y_true, which "
        "are skipped as absent either way",
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_7": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_8": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_9": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_10": _SGD,
    "neuralcli.optim.xǁSGDǁcompiled__mutmut_11": _SGD,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_9": _RMS,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_10": _RMS,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_11": _RMS,
    "neuralcli.optim.xǁRMSpropǁcompiled__mutmut_12": _RMS,
    "neuralcli.optim.xǁAdamǁcompiled__mutmut_4": _ADAM,
    "neuralcli.optim.xǁAdamǁcompiled__mutmut_5": _ADAM,
    "neuralcli.optim.xǁAdamǁcompiled__mutmut_6": _ADAM,
    "neuralcli.schedules.xǁReduceOnPlateauǁ__init____mutmut_17":
        "the first loss observed is finite (a non-finite one stops training as a "
        "divergence) and improves on the starting best of inf, which resets the count",
    "neuralcli.schedules.xǁReduceOnPlateauǁ__init____mutmut_18":
        "the first loss observed is finite (a non-finite one stops training as a "
        "divergence) and improves on the starting best of inf, which resets the count",
    "neuralcli.schedules.xǁStepDecayǁ__init____mutmut_19":
        "int(max(1, e / 3)) equals max(1, e // 3) for every positive e",
}

# Calls whose first argument (and `hint=`) is a sentence for a person: the wording of an
# error, its hint or a note. A mutant that changes only that wording (a word, its case,
# a value shown in it) or drops the hint is counted apart as "message": it is no wrong
# number. Row, column and fix arguments, and every other argument, stay in scope.
MESSAGE_CALLS = {"error", "DataError", "TrainingError", "Note"}


def _functions(module):
    """{function name: ast node} of mutmut's copy of a module (methods included)."""
    path = os.path.join(ROOT, "mutants", "neuralcli", module + ".py")
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    return {n.name: n for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _is_message_call(node):
    if not isinstance(node, ast.Call):
        return False
    f = node.func
    name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", None)
    if name in MESSAGE_CALLS:
        return True
    # notes.append("..."): a note for the user as a plain string
    return (name == "append" and isinstance(f, ast.Attribute)
            and isinstance(f.value, ast.Name) and f.value.id == "notes")


def _difference(a, b):
    """Where the trees a and b first differ: the steps (node of a, field, list index or
    None) from a down to it, or None when they are equal."""
    if type(a) is not type(b):
        return []
    for field in a._fields:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, list):
            if not isinstance(y, list) or len(x) != len(y):
                return [(a, field, None)]
            for i, (xi, yi) in enumerate(zip(x, y)):
                if isinstance(xi, ast.AST):
                    d = _difference(xi, yi)
                    if d is not None:
                        return [(a, field, i)] + d
                elif xi != yi:
                    return [(a, field, i)]
        elif isinstance(x, ast.AST):
            d = _difference(x, y)
            if d is not None:
                return [(a, field, None)] + d
        elif x != y:
            return [(a, field, None)]
    return None


def _follow(root, steps):
    """The node reached from root by steps (taken in a tree of the same shape)."""
    node = root
    for _, field, index in steps:
        node = getattr(node, field) if index is None else getattr(node, field)[index]
    return node


def _in_message(steps, mutant):
    """True when the difference lies in the message (first argument) or the hint of a
    message call, or is that call's hint left out."""
    for k, (node, field, index) in enumerate(steps):
        if not _is_message_call(node):
            continue
        if field == "args" and index == 0:
            return True
        if field == "keywords" and index is not None and node.keywords[index].arg == "hint":
            return True
        if field == "keywords" and index is None and k + 1 == len(steps):
            kept = [kw.arg for kw in _follow(mutant, steps[:k + 1])]
            return kept == [kw.arg for kw in node.keywords if kw.arg != "hint"] and \
                len(kept) < len(node.keywords)
    return False


def message_mutants(names):
    """The mutants among `names` that change only a message (see MESSAGE_CALLS)."""
    out = set()
    by_module = defaultdict(list)
    for name in names:
        by_module[name.split(".")[1]].append(name)
    for module, group in by_module.items():
        funcs = _functions(module)
        for name in group:
            fname = name.split(".", 2)[2]
            orig = funcs.get(fname.rsplit("__mutmut_", 1)[0] + "__mutmut_orig")
            mutant = funcs.get(fname)
            if orig is None or mutant is None:
                continue
            renamed = ast.FunctionDef(**{f: getattr(mutant, f) for f in mutant._fields})
            renamed.name = orig.name
            steps = _difference(orig, renamed)
            if steps and _in_message(steps, renamed):
                out.add(name)
    return out


def in_scope(name):
    return (any(fnmatch.fnmatchcase(name, p) for p in SCOPE)
            and not any(fnmatch.fnmatchcase(name, p) for p in OUT_OF_SCOPE))


def results():
    """{mutant name: exit code or None} from mutmut's files in mutants/."""
    out = {}
    for path in glob.glob(os.path.join(ROOT, "mutants", "neuralcli", "*.py.meta")):
        with open(path) as f:
            out.update(json.load(f)["exit_code_by_key"])
    return out


def status(code):
    if code in (1, 3) or (code is not None and code < 0) or code in (24, 36, 152, 255):
        return "killed"  # failed, crashed or timed out
    return {0: "survived", None: "not checked", 5: "no tests", 33: "no tests"}.get(
        code, "suspicious")


def cmd_run(args):
    names = [n for n in results() if in_scope(n)] if args.only_left else SCOPE
    if args.only_left:
        names = [n for n in names if status(results()[n]) != "killed"
                 and n not in EQUIVALENT]
        names = sorted(set(names) - message_mutants(names))
    return subprocess.call(["mutmut", "run", "--max-children", str(args.jobs), *names],
                           cwd=ROOT)


def cmd_score(args):
    res = {n: c for n, c in results().items() if in_scope(n)}
    if not res:
        print("no mutmut results in mutants/: run `python tests/mutation/python_mutants.py "
              "run` first", file=sys.stderr)
        return 1
    by_module = defaultdict(Counter)
    left = []
    messages = message_mutants(res)
    for name, code in sorted(res.items()):
        module = name.split(".")[1]
        st = ("equivalent" if name in EQUIVALENT else
              "message" if name in messages else status(code))
        by_module[module][st] += 1
        if st not in ("killed", "equivalent", "message"):
            left.append((name, st))
    total = Counter()
    print("| module | mutants | messages | equivalent | killed | survived | no test | not run "
          "| score |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for module in sorted(by_module):
        c = by_module[module]
        total.update(c)
        print(_row(module, c))
    print(_row("**all**", total))
    if args.verbose:
        for name, st in left:
            print(f"{st}: {name}")
    # a mutant not run counts against the target
    counted = sum(total.values()) - total["equivalent"] - total["message"]
    return 0 if counted and total["killed"] / counted >= TARGET else 1


def _row(label, c):
    """Counted are the mutants run that are neither message nor equivalent ones; the
    score is the share of them killed."""
    n = sum(c.values())
    counted = n - c["equivalent"] - c["message"] - c["not checked"]
    score = c["killed"] / counted if counted else 1.0
    return (f"| {label} | {n} | {c['message']} | {c['equivalent']} | {c['killed']} | "
            f"{c['survived'] + c['suspicious']} | {c['no tests']} | {c['not checked']} | "
            f"{100 * score:.1f}% |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="mutmut run over the scope")
    run.add_argument("--jobs", type=int, default=2)
    run.add_argument("--only-left", action="store_true",
                     help="only the mutants not yet killed (after adding tests)")
    score = sub.add_parser("score", help="the score table from mutmut's results")
    score.add_argument("-v", "--verbose", action="store_true", help="list what is alive")
    args = ap.parse_args(argv)
    return {"run": cmd_run, "score": cmd_score}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
