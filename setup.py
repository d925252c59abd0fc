"""Build neuralcli's compiled core: csrc/*.c and the Cython shim in one private module.

One extension module holds the whole C core, so the process-wide thread setting and the
core's thread pool (csrc/pool.c, POSIX threads) exist once. The training kernels run on
that pool; the CSV reader uses OpenMP when a test program compiles and links with it
(NEURALCLI_NO_OPENMP=1 makes it serial). The SIMD kernels carry per-function target
attributes and are chosen at import, so the build itself targets baseline x86-64.
"""
import os
import tempfile
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

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def openmp_flags(compiler):
    """Return (compile_args, link_args) that enable OpenMP, or ([], []) without it."""
    if os.environ.get("NEURALCLI_NO_OPENMP", "") not in ("", "0"):
        print("neuralcli: NEURALCLI_NO_OPENMP set, building serially")
        return [], []
    for cflag, lflag in (("-fopenmp", "-fopenmp"), ("-Xpreprocessor -fopenmp", "-lomp")):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as f:
                f.write(OPENMP_PROBE)
            try:
                objs = compiler.compile([src], output_dir=tmp, extra_postargs=cflag.split())
                compiler.link_executable(objs, "probe", output_dir=tmp,
                                         extra_postargs=lflag.split())
            except Exception:
                continue
        print(f"neuralcli: OpenMP found ({cflag})")
        return cflag.split(), lflag.split()
    print("neuralcli: no OpenMP, building serially")
    return [], []


class BuildExt(build_ext):
    def build_extensions(self):
        cflags, lflags = openmp_flags(self.compiler)
        extra = os.environ.get("NEURALCLI_EXTRA_CFLAGS", "").split()
        for ext in self.extensions:
            ext.extra_compile_args = BASE_FLAGS + ["-pthread"] + cflags + extra
            ext.extra_link_args = ["-pthread"] + lflags + extra
        super().build_extensions()


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
