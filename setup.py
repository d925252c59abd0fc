"""Build neuralcli's compiled core: csrc/*.c and the Cython shim in one private module.

One extension module holds the whole C core, so the process-wide thread setting and the
core's thread pool (csrc/pool.c, POSIX threads) exist once. Every parallel kernel, the
CSV reader's included, runs on that pool; no OpenMP runtime is linked, whose thread team
would not survive a fork() (a child that reads a CSV after its parent did would hang)
and would spin beside the pool's workers. The SIMD kernels carry per-function target
attributes and are chosen at import, so the build itself targets baseline x86-64.
"""
import os
from glob import glob

import numpy
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))

# -ffp-contract=off: scalar code rounds exactly as written (the SIMD kernels fuse by hand),
# so the portable path and the reference agree operation for operation.
# -fno-math-errno and -fno-trapping-math change no result: nothing here reads errno or the
# floating-point exception flags, and without them gcc keeps a branch in element-wise
# selects such as relu's backward (it may not evaluate both arms), which mispredicts on
# half the elements. No value-changing flag (-ffast-math, -Ofast, reassociation) is used.
BASE_FLAGS = ["-O3", "-std=gnu11", "-ffp-contract=off", "-fno-math-errno",
              "-fno-trapping-math", "-Wall", "-Wno-unknown-pragmas"]

# NEURALCLI_SANITIZE=address,undefined,fuzzer: an instrumented build for the sanitizer
# tests and the fuzzers (tests/README.md), never the default. It compiles with clang
# (NEURALCLI_SANITIZE_CC to name another), at -O1 with frame pointers and debug lines for
# readable reports; a sanitizer finding aborts the process. "fuzzer" is libFuzzer's
# coverage instrumentation without its main (-fsanitize=fuzzer-no-link), as atheris
# fuzzes native extensions. The runtime is not linked in: the process preloads it.
SANITIZERS = {"address": "address", "undefined": "undefined", "fuzzer": "fuzzer-no-link"}


def sanitize_flags(value):
    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in names if s not in SANITIZERS]
    if unknown or not names:
        raise SystemExit(f"NEURALCLI_SANITIZE={value!r}: give a comma-separated list of "
                         f"{', '.join(SANITIZERS)}")
    flags = ["-fsanitize=" + ",".join(SANITIZERS[s] for s in names), "-O1", "-g",
             "-fno-omit-frame-pointer"]
    if "undefined" in names:
        flags.append("-fno-sanitize-recover=undefined")
    return flags


class BuildExt(build_ext):
    def build_extensions(self):
        extra = os.environ.get("NEURALCLI_EXTRA_CFLAGS", "").split()
        sanitize = os.environ.get("NEURALCLI_SANITIZE")
        if sanitize:
            extra = sanitize_flags(sanitize) + extra
            cc = os.environ.get("NEURALCLI_SANITIZE_CC", "clang")
            # the configured compiler and linker commands keep their flags; only the
            # program changes
            self.compiler.set_executables(compiler_so=[cc] + self.compiler.compiler_so[1:],
                                          linker_so=[cc] + self.compiler.linker_so[1:])
        for ext in self.extensions:
            ext.extra_compile_args = BASE_FLAGS + ["-pthread"] + extra
            ext.extra_link_args = ["-pthread"] + extra
        jobs = int(os.environ.get("NEURALCLI_BUILD_JOBS") or 1)
        if jobs > 1:
            self.compiler.compile = _parallel(self.compiler.compile, jobs)
        super().build_extensions()


def _parallel(compile_sources, jobs):
    """NEURALCLI_BUILD_JOBS=N: the compiler's compile(), one source file per call on N
    threads (setuptools compiles one extension's sources one after another)."""
    from concurrent.futures import ThreadPoolExecutor

    def compile_all(sources, **kw):
        with ThreadPoolExecutor(jobs) as pool:
            done = pool.map(lambda source: compile_sources([source], **kw), sources)
            return [obj for objs in done for obj in objs]
    return compile_all


def extensions():
    from Cython.Build import cythonize

    sources = ["neuralcli/_kernels.pyx"] + sorted(glob("csrc/*.c"))
    ext = Extension(
        "neuralcli._kernels",
        sources=sources,
        include_dirs=["csrc", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        depends=glob("csrc/*.h"),
    )
    return cythonize([ext], language_level=3,
                     compiler_directives={"boundscheck": False, "wraparound": False,
                                          "cdivision": True, "initializedcheck": False})


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
