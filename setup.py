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

class BuildExt(build_ext):
    def build_extensions(self):
        extra = os.environ.get("NEURALCLI_EXTRA_CFLAGS", "").split()
        for ext in self.extensions:
            ext.extra_compile_args = BASE_FLAGS + ["-pthread"] + extra
            ext.extra_link_args = ["-pthread"] + extra
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
