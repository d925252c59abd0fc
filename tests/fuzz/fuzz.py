#!/usr/bin/env python3
"""Run one fuzz target (tests/fuzz/targets.py) under atheris, libFuzzer's Python front end.

    python tests/fuzz/fuzz.py TARGET [libFuzzer arguments and corpus directories]
    python tests/fuzz/fuzz.py csv -max_total_time=600 /tmp/csv-work tests/fuzz/corpus/csv

TARGET is csv, model or options. neuralcli's Python code is instrumented for coverage as
it is imported; the C core is when it was built with NEURALCLI_SANITIZE=...,fuzzer and
the sanitizer runtime with libFuzzer is preloaded (tests/README.md says how; .ci/sanitize
does it). libFuzzer writes new inputs to the first corpus directory: give a scratch one
first, the checked-in seeds after it. A finding is saved as crash-*/timeout-* in the
working directory (or -artifact_prefix=DIR/); replay one with

    python tests/fuzz/fuzz.py csv crash-<sha1>
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("csv", "model", "options"):
        sys.exit(__doc__)
    name = sys.argv.pop(1)
    import atheris

    sys.path.insert(0, HERE)
    with atheris.instrument_imports(include=["neuralcli", "targets"]):
        import neuralcli.cli  # noqa: F401  the modules the targets reach, instrumented
        import neuralcli.csvparse  # noqa: F401
        import neuralcli.estimators  # noqa: F401
        import neuralcli.model  # noqa: F401
        import neuralcli.persist  # noqa: F401
        import neuralcli.reader  # noqa: F401
        import neuralcli.spill  # noqa: F401
        import targets
    # the commands import their modules lazily: import every one now, instrumented
    with atheris.instrument_imports(include=["neuralcli"]):
        import neuralcli.cli.explain  # noqa: F401
        import neuralcli.cli.inspect  # noqa: F401
        import neuralcli.cli.train  # noqa: F401
        import neuralcli.cli.source  # noqa: F401
        import neuralcli.preprocess  # noqa: F401
    target = targets.TARGETS[name]
    # the first call imports what the entry points import lazily (scikit-learn, say):
    # made here, it is not counted against the first input's time limit
    target(b"")
    print(f"fuzz: {name} against {os.path.dirname(neuralcli.__file__)}", file=sys.stderr)
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
