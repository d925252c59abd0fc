#!/usr/bin/env python3
"""Mutation testing of the C core (csrc/): do the tests notice a wrong operator or constant?

Each mutant is one source change in one file of csrc/. The script copies the tracked files
of the repository (git ls-files) to a temporary directory, builds the extension there once
with setup.py (recording the compile and link commands it ran), and then, for every
mutant: applies the change, recompiles the translation units that see the file (the .c
itself, or every .c that includes the mutated header, directly or not), relinks, runs the
mutant's test files with pytest from inside the copy, and puts the source and the objects
back. Outcomes:

  killed      a test failed, crashed or ran past the time limit
  survived    every test passed: a missing test, unless the mutant is equivalent
  not viable  the mutated source did not compile (reported apart, never counted as killed)
  skipped     the mutated code cannot run on this CPU (an AVX-512 path without AVX-512)

Equivalent mutants (a change no test can observe, e.g. padding that is never written back)
stay in the list with the reason; they are not run unless --run-equivalent is given, and
then they are expected to survive.

    python tests/mutation/c_mutants.py                 # every mutant
    python tests/mutation/c_mutants.py --quick         # the CI subset
    python tests/mutation/c_mutants.py --list
    python tests/mutation/c_mutants.py --only loss     # ids, files or descriptions matching
    python tests/mutation/c_mutants.py --jobs 2        # two mutants at a time (two copies)
    python tests/mutation/c_mutants.py --equivalent    # check the equivalent ones survive

Exit status 1 when a mutant that is not marked equivalent survives (or the build fails).
"""
import argparse
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

T_ACT = ["tests/test_activations.py", "tests/test_dense.py"]
T_LOSS = ["tests/test_loss.py"]
T_DENSE = ["tests/test_dense.py"]
T_GEMM = ["tests/test_gemm.py"]
T_OPT = ["tests/test_optim.py"]
T_DROP = ["tests/test_dropout.py"]
T_NORM = ["tests/test_norm.py"]
T_GATHER = ["tests/test_sparse_input.py"]
T_FUSED = ["tests/test_fused_step.py", "tests/test_sparse_input.py"]
T_MLP = ["tests/test_network.py", "tests/test_sparse_input.py"]
T_TRAIN = ["tests/test_training_runs.py", "tests/test_training_oracle.py"]
ISA_ORDER = ("portable", "avx2", "avx512")
PORTABLE = {"NEURALCLI_ISA": "portable"}
AVX2 = {"NEURALCLI_ISA": "avx2"}


@dataclass
class Mutant:
    file: str            # path under csrc/
    find: str            # source snippet (or regex with regex=True)
    repl: str            # its replacement
    tests: list          # test files or node ids, run from the copy's root
    desc: str
    nth: int = None      # which occurrence when the snippet is not unique (0-based)
    regex: bool = False
    env: dict = field(default_factory=dict)  # e.g. NEURALCLI_ISA=portable
    needs: str = None    # "avx512": the mutated code runs only on a CPU with it
    equivalent: str = None  # why no test can tell the mutant from the original
    quick: bool = False  # in the --quick subset
    id: str = ""


def M(file, find, repl, tests, desc, **kw):
    return Mutant(file, find, repl, tests, desc, **kw)


# --------------------------------------------------------------------------- the mutants
MUTANTS = [
    # ---- losses: softmax cross-entropy, MSE, MAE, BCE with logits, weights, mean divisor
    M("loss_impl.h", "for (int64_t j = 1; j < k; j++) mx = ar[j] > mx ? ar[j] : mx;", "",
      T_LOSS, "softmax CE shifts by the first logit instead of the row max", quick=True),
    M("loss_impl.h", "mx = ar[j] > mx ? ar[j] : mx", "mx = ar[j] < mx ? ar[j] : mx", T_LOSS,
      "softmax CE shifts by the row min"),
    M("loss_impl.h", "(double)(log(sum) - (ar[y] - mx))", "(double)(log(sum) - ar[y])", T_LOSS,
      "CE value forgets the shift on the label's logit"),
    M("loss_impl.h", "(double)(log(sum) - (ar[y] - mx))", "(double)(log(sum) + (ar[y] - mx))",
      T_LOSS, "CE value adds the label's logit"),
    M("loss_impl.h", "T r = (T)1 / sum;", "T r = (T)1 / (sum + (T)1);", T_LOSS,
      "softmax normalizer off by one"),
    M("loss_impl.h", "gr[y] = gs * (py - (T)1);", "gr[y] = gs * (py + (T)1);", T_LOSS,
      "CE gradient at the label adds 1 instead of subtracting", quick=True),
    M("loss_impl.h", "gr[j] = gs * (gr[j] * r);", "gr[j] = gs * gr[j];", T_LOSS,
      "CE gradient without probs output is not normalized"),
    M("loss_impl.h", "T py = pr ? pr[y] : gr[y] * r;", "T py = pr ? pr[y] : gr[y];", T_LOSS,
      "CE gradient without probs output: label term not normalized"),
    M("loss_impl.h", "for (int64_t j = 0; j < k; j++) pr[j] *= r;",
      "for (int64_t j = 1; j < k; j++) pr[j] *= r;", T_LOSS, "first probability not normalized"),
    M("loss_impl.h", "T gs = (T)(2.0 * (double)s * inv);", "T gs = (T)(1.0 * (double)s * inv);",
      T_LOSS, "MSE gradient loses its factor 2", quick=True),
    M("loss_impl.h", "rs += (double)d * (double)d;", "rs += (double)d * (double)fabs(ar[j]);",
      T_LOSS, "MSE value squares the wrong term"),
    M("loss_impl.h", "T d = ar[j] - tr[j];", "T d = tr[j] - ar[j];", T_LOSS,
      "MSE residual sign flipped", nth=0),
    M("loss_impl.h", "if (gr) gr[j] = d > 0 ? gs : d < 0 ? -gs : d * (T)0;",
      "if (gr) gr[j] = d >= 0 ? gs : d < 0 ? -gs : d * (T)0;", T_LOSS,
      "MAE gradient at a zero residual is +1, not 0"),
    M("loss_impl.h", "d < 0 ? -gs : d * (T)0", "d < 0 ? gs : d * (T)0", T_LOSS,
      "MAE gradient of a negative residual is +1"),
    M("loss_impl.h", "rs += (double)fabs(d);", "rs += (double)d;", T_LOSS,
      "MAE value without the absolute value"),
    M("loss_isa.h", "FNI(vec) pos = (FNI(vec))((zv > zero) & (ivec)zv);",
      "FNI(vec) pos = (FNI(vec))((zv < zero) & (ivec)zv);", T_LOSS,
      "BCE max(z,0) becomes min(z,0)"),
    M("loss_isa.h", "FNI(vec) tr = (pos - zv * tv) + FNI(log1p_unit)(e);",
      "FNI(vec) tr = (pos + zv * tv) + FNI(log1p_unit)(e);", T_LOSS,
      "BCE value adds z*t"),
    M("loss_isa.h", "FNI(vec) e = FNI(exp_nonpos)(-az);", "FNI(vec) e = FNI(exp_nonpos)(-zv);",
      T_LOSS, "BCE log1p(e^-|z|) uses e^-z"),
    M("loss_isa.h", "(nonneg & (ivec)(one / d)) | (~nonneg & (ivec)(e / d))",
      "(nonneg & (ivec)(e / d)) | (~nonneg & (ivec)(one / d))", T_LOSS,
      "BCE gradient's sigmoid branches swapped"),
    M("loss_isa.h", "ivec nonneg = zv >= zero;", "ivec nonneg = zv > zero;", T_LOSS,
      "BCE sigmoid branch at z == 0",
      equivalent="at z == 0 e = 1 and both branches give 1/2 exactly"),
    M("loss_impl.h", "if (grad) grad[e0 + q] = gs * (sig[q] - t[e0 + q]);",
      "if (grad) grad[e0 + q] = gs * (t[e0 + q] - sig[q]);", T_LOSS,
      "BCE gradient sign flipped", quick=True),
    M("loss_impl.h", "acc += (double)s * rs;\n                rs = 0.0;",
      "acc += rs;\n                rs = 0.0;", T_LOSS, "BCE value ignores the row weights"),
    M("loss_impl.h", "                    s = FN(row_weight)(sw, NULL, NULL, i);",
      "                    s = FN(row_weight)(sw, NULL, NULL, i0);", T_LOSS,
      "BCE weights every row by the first row's weight"),
    M("loss_isa.h", "int deg = dbl ? 13 : 7;", "int deg = dbl ? 13 : 5;", T_LOSS,
      "float e^r's polynomial two degrees short"),
    M("loss_isa.h", "int deg = dbl ? 13 : 7;", "int deg = dbl ? 10 : 7;", T_LOSS,
      "double e^r's polynomial three degrees short"),
    M("loss_isa.h", "ivec n1 = ni >> 1, n2 = ni - n1;", "ivec n1 = ni >> 1, n2 = n1;", T_LOSS,
      "2^n's second factor halves n again: odd n lose a factor of 2"),
    M("loss_isa.h", "r = FNI(vfma)(-n, FNI(splat)(ln2_lo), r);", "", T_LOSS,
      "the reduction drops ln 2's low part", env=PORTABLE),
    M("loss_isa.h", "int top = dbl ? 33 : 15;", "int top = dbl ? 33 : 9;", T_LOSS,
      "float log1p's series three terms short"),
    M("loss_isa.h", "int top = dbl ? 33 : 15;", "int top = dbl ? 23 : 15;", T_LOSS,
      "double log1p's series five terms short"),
    M("loss_isa.h", "FNI(vec) u = (e + e) / (FNI(splat)((T)2) + e);",
      "FNI(vec) u = (e + e) / (FNI(splat)((T)2) - e);", T_LOSS,
      "log1p's s = e / (2 + e) subtracts"),
    M("loss_impl.h", "if (cw) s *= cw[labels[i]];", "if (cw) s += cw[labels[i]];", T_LOSS,
      "class weight added to the sample weight instead of multiplied"),
    M("loss_impl.h", "T s = sw ? sw[i] : (T)1;", "T s = sw ? (T)1 : (T)1;", T_LOSS,
      "sample weights ignored"),
    M("loss_impl.h", "T s = FN(row_weight)(sw, kind == NC_LOSS_CE ? cw : NULL, labels, i);",
      "T s = FN(row_weight)(sw, NULL, labels, i);", T_LOSS,
      "class weights ignored by the loss rows"),
    M("loss_impl.h", "double denom = kind == NC_LOSS_CE ? wsum : (double)k * wsum;",
      "double denom = wsum;", T_LOSS, "element-wise losses' gradient mean forgets K"),
    M("loss_impl.h", "return kind == NC_LOSS_CE ? total / wsum : total / ((double)k * wsum);",
      "return kind == NC_LOSS_CE ? total / wsum : total / wsum;", T_LOSS,
      "element-wise losses' value mean forgets K"),
    M("loss_impl.h", "for (int64_t c = 0; c < chunks; c++) total += part[c];",
      "for (int64_t c = 1; c < chunks; c++) total += part[c];", T_LOSS,
      "weight total drops its first chunk", nth=0),
    M("loss_impl.h", "for (int64_t c = 0; c < chunks; c++) total += part[c];",
      "for (int64_t c = 1; c < chunks; c++) total += part[c];", T_LOSS,
      "loss total drops its first chunk", nth=1),
    M("loss_impl.h", "acc += (double)FN(row_weight)(j->sw, j->cw, j->labels, i);",
      "acc = (double)FN(row_weight)(j->sw, j->cw, j->labels, i);", T_LOSS,
      "weight total keeps only the last row of a chunk"),
    M("loss_impl.h", "if (wsum == 0.0 && kind != NC_LOSS_CE) {",
      "if (wsum == 0.0 && kind == NC_LOSS_CE) {", T_LOSS,
      "zero total weight: gradient zeroing for the wrong losses"),
    M("loss.c", "int64_t by_elems = (nc_red_chunk_len(n * k) + k - 1) / k;",
      "int64_t by_elems = (nc_red_chunk_len(n * k) + k - 1) / k + 1;", T_LOSS,
      "loss reduction chunks one row longer",
      equivalent="chunking fixes only the summation order, the same at every thread "
                 "count; the value changes in the last bits at most"),

    # ---- activations, forward
    M("activations_impl.h", "yr[j] = v < 0 ? (T)0 : v;", "yr[j] = v > 0 ? (T)0 : v;", T_ACT,
      "relu keeps the negative part", quick=True),
    M("activations_impl.h", "yr[j] = v < 0 ? (T)0 : v;", "yr[j] = v >= 0 ? v : (T)0;", T_ACT,
      "relu maps NaN to 0"),
    M("activations_impl.h", "yr[j] = v < 0 ? (T)0 : v;", "yr[j] = v <= 0 ? (T)0 : v;", T_ACT,
      "relu at exactly zero",
      equivalent="differs only at z = -0.0, giving +0.0 for -0.0: the same value"),
    M("activations_impl.h", "yr[j] = v * (v < 0 ? param : (T)1);",
      "yr[j] = v * (v > 0 ? param : (T)1);", T_ACT, "leaky relu slope on the wrong side"),
    M("activations_impl.h", "yr[j] = zr[j] > 0 ? zr[j] : param * expm1(zr[j]);",
      "yr[j] = zr[j] > 0 ? zr[j] : param * exp(zr[j]);", T_ACT, "elu uses e^z, not e^z - 1"),
    M("activations_impl.h", "yr[j] = zr[j] > 0 ? zr[j] : param * expm1(zr[j]);",
      "yr[j] = zr[j] > 0 ? zr[j] : expm1(zr[j]);", T_ACT, "elu ignores alpha"),
    M("activations_impl.h", "return (T)1 / ((T)1 + exp(-v));",
      "return (T)1 / ((T)1 + exp(v));", T_ACT, "sigmoid of -z for z >= 0"),
    M("activations_impl.h", "return e / ((T)1 + e);", "return (T)1 / ((T)1 + e);", T_ACT,
      "sigmoid of -z for z < 0"),
    M("activations_impl.h", "if (v >= 0) {\n        return (T)1",
      "if (v <= 0) {\n        return (T)1", T_ACT,
      "sigmoid picks the overflowing branch"),
    M("activations_impl.h", "for (int64_t j = 0; j < c; j++) yr[j] = tanh(zr[j]);",
      "for (int64_t j = 0; j < c; j++) yr[j] = tanh(zr[j] * (T)0.5);", T_ACT,
      "tanh of z/2"),
    M("activations_impl.h", "yr[j] = v * (T)0.5 * ((T)1 + erf(v * (T)0.70710678118654752440));",
      "yr[j] = v * (T)0.5 * ((T)1 + erf(v * (T)1.41421356237309504880));", T_ACT,
      "gelu forward uses sqrt(2) for 1/sqrt(2)"),
    M("activations_impl.h", "yr[j] = v * (T)0.5 * ((T)1 + erf(",
      "yr[j] = v * (T)0.5 * ((T)1 - erf(", T_ACT, "gelu forward 1 - erf"),
    M("activations_impl.h", "yr[j] = v >= 0 ? (T)1 : (T)0;", "yr[j] = v > 0 ? (T)1 : (T)0;",
      T_ACT, "step(0) is 0 instead of 1"),
    M("activations_impl.h", "for (int64_t j = 1; j < c; j++) mx = zr[j] > mx ? zr[j] : mx;", "",
      T_ACT, "softmax activation shifts by the first logit"),
    M("activations_impl.h", "T inv = (T)1 / s;", "T inv = (T)1 / (s + (T)1);", T_ACT,
      "softmax activation normalizer off by one"),
    M("activations_impl.h", "if (act != NC_ACT_SOFTMAX && ldy == c && ldz == c && n > 1) {",
      "if (ldy == c && ldz == c && n > 1) {", T_ACT,
      "softmax over packed rows taken as one long row"),
    # ---- activations, backward
    M("activations_impl.h", "d[j] = yv > 0 ? gv : (T)0;", "d[j] = yv >= 0 ? gv : (T)0;", T_ACT,
      "relu backward passes the gradient where y == 0", quick=True),
    M("activations_impl.h", "d[j] = gv * (yv > 0 ? (T)1 : param);",
      "d[j] = gv * (yv < 0 ? (T)1 : param);", T_ACT, "leaky relu backward slopes swapped"),
    M("activations_impl.h", "d[j] = gv * (yv > 0 ? (T)1 : yv + param);",
      "d[j] = gv * (yv > 0 ? (T)1 : yv - param);", T_ACT, "elu backward y - alpha"),
    M("activations_impl.h", "d[j] = gv * (yv > 0 ? (T)1 : yv + param);",
      "d[j] = gv * (yv > 0 ? (T)1 : param);", T_ACT, "elu backward forgets y"),
    M("activations_impl.h", "d[j] = g[j] * yr[j] * ((T)1 - yr[j]);",
      "d[j] = g[j] * yr[j] * ((T)1 + yr[j]);", T_ACT, "sigmoid backward y(1+y)"),
    M("activations_impl.h", "d[j] = g[j] * ((T)1 - yr[j] * yr[j]);",
      "d[j] = g[j] * ((T)1 - yr[j]);", T_ACT, "tanh backward 1 - y"),
    M("activations_impl.h", "T pdf = exp((T)-0.5 * v * v) * (T)0.39894228040143267794;",
      "T pdf = exp((T)-0.5 * v * v) * (T)0.79788456080286535588;", T_ACT,
      "gelu backward pdf constant doubled"),
    M("activations_impl.h", "T pdf = exp((T)-0.5 * v * v)", "T pdf = exp((T)-1.0 * v * v)",
      T_ACT, "gelu backward pdf exponent"),
    M("activations_impl.h", "d[j] = g[j] * (cdf + v * pdf);", "d[j] = g[j] * (cdf - v * pdf);",
      T_ACT, "gelu backward sign of the pdf term"),
    M("activations_impl.h", "T cdf = (T)0.5 * ((T)1 + erf(v * (T)0.70710678118654752440));",
      "T cdf = (T)0.5 * ((T)1 + erf(v));", T_ACT, "gelu backward cdf without 1/sqrt(2)"),
    M("activations_impl.h", "for (int64_t j = 0; j < c; j++) s += g[j] * yr[j];",
      "for (int64_t j = 0; j < c; j++) s += g[j];", T_ACT, "softmax backward sum without y"),
    M("activations_impl.h", "d[j] = yr[j] * (g[j] - s);", "d[j] = yr[j] * (g[j] + s);", T_ACT,
      "softmax backward adds the row sum"),
    M("activations_impl.h", "if (act != NC_ACT_SOFTMAX && ld == c && n > 1) {",
      "if (ld == c && n > 1) {", T_ACT, "softmax backward over packed rows as one row"),
    # ---- swish
    M("activations_impl.h", "yr[j] = zr[j] * FN(sigmoid)(zr[j]);",
      "yr[j] = FN(sigmoid)(zr[j]);", T_ACT, "swish forward is the sigmoid"),
    M("activations_impl.h", "d[j] = g[j] * (s * ((T)1 + v * ((T)1 - s)));",
      "d[j] = g[j] * (s * ((T)1 - v * ((T)1 - s)));", T_ACT,
      "swish backward subtracts the z s (1 - s) term"),
    M("activations_impl.h", "d[j] = g[j] * (s * ((T)1 + v * ((T)1 - s)));",
      "d[j] = g[j] * s;", T_ACT, "swish backward is the sigmoid"),
    M("activations.c", "return act == NC_ACT_GELU || act == NC_ACT_SWISH;",
      "return act == NC_ACT_GELU;", T_ACT + ["tests/test_network.py"],
      "swish's pre-activation not kept for its backward"),

    # ---- dense forward/backward
    M("dense_impl.h", "ep.bias = b;", "ep.bias = NULL;", T_DENSE, "dense forward drops the bias",
      nth=0, quick=True),
    M("dense_impl.h", "ep.z_out = z;", "ep.z_out = NULL;", T_DENSE,
      "dense forward does not save the pre-activation"),
    M("dense_impl.h", "ep.act = act == NC_ACT_SOFTMAX ? NC_ACT_IDENTITY : act;",
      "ep.act = act;", T_DENSE, "softmax applied in the GEMM tiles and again on rows"),
    M("dense_impl.h", "acc[j] += dz[off + i * oc + j];", "acc[j] += dy[off + i * oc + j];",
      T_DENSE, "bias gradient sums dy instead of dz"),
    M("dense_impl.h", "for (int64_t j = 0; j < w; j++) db[j0 + j] = (T)acc[j];",
      "for (int64_t j = 0; j < w; j++) db[j0 + j] = (T)acc[j] / (T)n;", T_DENSE,
      "bias gradient averaged over rows"),
    M("dense_impl.h", "FN(nc_gemm)(dw, x, dz, c, oc, n, c, oc, oc, 1, 0,",
      "FN(nc_gemm)(dw, x, dz, c, oc, n, c, oc, oc, 0, 0,", T_DENSE,
      "weight gradient without transposing x"),
    M("dense_impl.h", "FN(nc_gemm)(dx, dz, w, n, c, oc, oc, oc, c, 0, 1,",
      "FN(nc_gemm)(dx, dz, w, n, c, oc, oc, oc, c, 0, 0,", T_DENSE,
      "input gradient without transposing w"),
    M("dense_impl.h", "FN(dz_db)(db, dz, dz, dz, NULL, n, oc, NC_ACT_IDENTITY, act_param);",
      "FN(dz_db)(db, dz, dy, dz, NULL, n, oc, NC_ACT_IDENTITY, act_param);", T_DENSE,
      "softmax layer: bias gradient and dz from dy"),
    M("dense_impl.h", "if (dw) FN(nc_scatter_rows_add)(dw, dz, codes, n, codes ? ncat : 0, cd, c, oc);",
      "if (dw) FN(nc_scatter_rows_add)(dw, dz, codes, n, codes ? ncat : 0, cd + 1, c, oc);",
      T_GATHER, "code rows' gradient skips the first code row"),
    M("dense_impl.h", "FN(nc_gather_rows_add)(acc, codes, w, n, ncat, oc);",
      "FN(nc_gather_rows_add)(acc, codes, w, n, ncat - 1, oc);", T_GATHER,
      "forward gathers one categorical column too few"),

    # ---- GEMM: driver, edge tiles, epilogue, unpacked path, packing
    M("gemm.c", "for (int64_t j = 0; j < cols; j++) cr[j] += bias[j];",
      "for (int64_t j = 0; j < cols; j++) cr[j] -= bias[j];", T_GEMM, "epilogue subtracts the bias"),
    M("gemm.c", "const T *bias = ep->bias + j0;", "const T *bias = ep->bias;", T_GEMM,
      "epilogue bias not offset to the tile's columns", quick=True),
    M("gemm.c", "memcpy(ep->z_out + (i0 + r) * ep->ldz + j0, cr,",
      "memcpy(ep->z_out + (i0 + r) * ep->ldz, cr,", T_GEMM,
      "epilogue saves z at the wrong columns"),
    M("gemm.c", "if (ep->act != NC_ACT_IDENTITY)\n        FN(nc_act_tile)(c, c, rows, cols, ldc, ldc,",
      "if (ep->act != NC_ACT_IDENTITY)\n        FN(nc_act_tile)(c, c, rows, cols, cols, ldc,",
      T_GEMM, "epilogue activation with the tile width as leading dim"),
    M("gemm.c", "for (int64_t x = 0; x < cols; x++) cr[x] = alpha * tr[x];",
      "for (int64_t x = 0; x < cols; x++) cr[x] = tr[x];", T_GEMM,
      "edge tile write-back drops alpha (beta == 0)", quick=True),
    M("gemm.c", "for (int64_t x = 0; x < cols; x++) cr[x] = alpha * tr[x] + beta * cr[x];",
      "for (int64_t x = 0; x < cols; x++) cr[x] = alpha * tr[x] + cr[x];", T_GEMM,
      "edge tile write-back drops beta"),
    M("gemm.c", "int whole = rows == rk && cols == (half ? nr / 2 : nr);",
      "int whole = rows == rk && cols >= (half ? nr / 2 : nr) - 1;", T_GEMM,
      "a tile one column short is written as whole"),
    M("gemm.c", "T al = whole ? alpha : (T)1, be = whole ? beta : (T)0;",
      "T al = whole ? alpha : (T)1, be = beta;", T_GEMM,
      "edge tile kernel reads the stack tile with beta"),
    M("gemm.c", "int64_t rows = NC_MIN(mr, mc - i), cols = NC_MIN(nr, nc - j);",
      "int64_t rows = NC_MIN(mr, mc - i), cols = NC_MIN(nr, nc - j + 1);", T_GEMM,
      "edge tile writes one column too many"),
    M("gemm.c", "int64_t rows = NC_MIN(mr, mc - i), cols = NC_MIN(nr, nc - j);",
      "int64_t rows = NC_MIN(mr, mc - i - 1), cols = NC_MIN(nr, nc - j);", T_GEMM,
      "edge tile writes one row too few"),
    M("gemm.c", "T beta_pc = pc == 0 ? beta : (T)1;", "T beta_pc = beta;", T_GEMM,
      "every K block scales C by beta"),
    M("gemm.c", "const EPILOGUE *ep_pc = pc + kc >= k ? ep : NULL;",
      "const EPILOGUE *ep_pc = ep;", T_GEMM + T_DENSE,
      "epilogue (bias, activation) after every K block, not the last"),
    M("gemm.c", "cr[j] = beta == 0 ? alpha * s : alpha * s + beta * cr[j];",
      "cr[j] = beta == 0 ? alpha * s : alpha * s + cr[j];", T_GEMM,
      "unpacked dot form drops beta"),
    M("gemm.c", "for (int64_t p = 0; p < k; p++) s += ar[p * sa_p] * bc[p * sb_p];",
      "for (int64_t p = 1; p < k; p++) s += ar[p * sa_p] * bc[p * sb_p];", T_GEMM,
      "unpacked dot form skips the first term"),
    M("gemm.c", "T t = alpha * ar[p * sa_p];", "T t = ar[p * sa_p];", T_GEMM,
      "unpacked axpy form drops alpha"),
    M("gemm.c", "else if (beta != 1)\n                for (int64_t j = 0; j < n; j++) cr[j] *= beta;",
      "else if (beta != 0)\n                for (int64_t j = 0; j < n; j++) cr[j] *= beta;",
      T_GEMM, "unpacked axpy form also scales by beta == 1",
      equivalent="x * 1 is x for every float, inf and NaN included"),
    M("gemm.c", "else if (beta != 1)\n                for (int64_t j = 0; j < n; j++) cr[j] *= beta;",
      "else if (beta != 1)\n                for (int64_t j = 1; j < n; j++) cr[j] *= beta;",
      T_GEMM, "unpacked axpy form misses beta on the first column"),
    M("gemm.c", "for (int64_t i = i0; i < i1; i++) c[i * ldc] = beta == 0 ? 0 : beta * c[i * ldc];",
      "for (int64_t i = i0; i < i1; i++) c[i * ldc] = beta == 0 ? 0 : c[i * ldc];", T_GEMM,
      "unpacked column form drops beta"),
    M("gemm.c", "T t = alpha * b[p * sb_p];", "T t = b[p * sb_p];", T_GEMM,
      "unpacked column form drops alpha"),
    M("gemm.c", "for (int64_t j = 0; j < n; j++) cr[j] = beta == 0 ? (T)0 : beta * cr[j];",
      "for (int64_t j = 0; j < n; j++) cr[j] = beta == 0 ? (T)0 : cr[j];", T_GEMM,
      "k == 0 ignores beta"),
    M("gemm.c", "const T *s = a + (i + r) * lda + p0;", "const T *s = a + (i + r) * lda;", T_GEMM,
      "pack A ignores the K block offset"),
    M("gemm.c", "const T *s = a + (p0 + p) * lda + i;", "const T *s = a + p * lda + i;", T_GEMM,
      "pack A (transposed) ignores the K block offset"),
    M("gemm.c", "const T *s = b + (p0 + p) * ldb + j;", "const T *s = b + p * ldb + j;", T_GEMM,
      "pack B ignores the K block offset"),
    M("gemm.c", "const T *s = b + (j + x) * ldb + p0;", "const T *s = b + (j + x) * ldb;",
      T_GEMM, "pack B (transposed) ignores the K block offset"),
    M("gemm.c", "for (; r < mr; r++) dp[r] = 0;", "for (; r < mr; r++) dp[r] = 1;", T_GEMM,
      "pack A pads the rows past M with ones",
      equivalent="padded rows only fill the stack tile of an edge tile, whose rows past M "
                 "are never written back"),
    M("gemm.c", "for (; x < nr; x++) dp[x] = 0;", "for (; x < nr; x++) dp[x] = 1;", T_GEMM,
      "pack B pads the columns past N with ones",
      equivalent="padded columns only fill the stack tile of an edge tile, whose columns "
                 "past N are never written back"),
    M("gemm.c", "int64_t j1 = NC_MIN(j->n, j->pn * (gj + 1) / j->gn * cf->nr);",
      "int64_t j1 = NC_MIN(j->n - 1, j->pn * (gj + 1) / j->gn * cf->nr);", T_GEMM,
      "packed units miss C's last column"),
    M("gemm.c", "int64_t i0 = NC_MIN(j->m, j->pm * gi / j->gm * cf->mr);",
      "int64_t i0 = NC_MIN(j->m, j->pm * gi / j->gm * cf->mr + (gi > 0));", T_GEMM,
      "a second row group starts one row late"),
    M("gemm.c", "int64_t kc = NC_MIN(kcb, k - pc);", "int64_t kc = NC_MIN(kcb, k - pc - 1);",
      T_GEMM, "packed path drops the last K index"),
    M("gemm.c", "if (isa == NC_ISA_AVX2) return &avx2;", "if (isa == NC_ISA_AVX2) return &portable;",
      T_GEMM, "the AVX2 path runs the portable configuration",
      equivalent="the portable configuration computes the same products; only speed and "
                 "rounding order inside tolerance change"),
    M("gemm_kernels.c", "for (int j = 0; j < 8; j++) cr[j] = alpha * acc[i][j];",
      "for (int j = 0; j < 8; j++) cr[j] = acc[i][j];", T_GEMM,
      "portable micro-kernel drops alpha (beta == 0)"),
    M("gemm_kernels.c", "for (int j = 0; j < 8; j++) cr[j] = alpha * acc[i][j] + beta * cr[j];",
      "for (int j = 0; j < 8; j++) cr[j] = alpha * acc[i][j] + cr[j];", T_GEMM,
      "portable micro-kernel drops beta"),
    M("gemm_kernels.c", "for (int j = 0; j < 8; j++) acc[i][j] += a[i] * b[j];",
      "for (int j = 0; j < 8; j++) acc[i][j] += a[i] * b[i];", T_GEMM,
      "portable micro-kernel multiplies by the wrong B element"),
    M("gemm_kernels.c", "c##i##1 = _mm256_fmadd_ps(ai, b1, c##i##1);",
      "c##i##1 = _mm256_fmadd_ps(ai, b0, c##i##1);", T_GEMM,
      "AVX2 float kernel: second half uses the first B vector", quick=True),
    M("gemm_kernels.c", "_mm256_storeu_ps(c + (i) * ldc + 8, _mm256_mul_ps(c##i##1, va));",
      "_mm256_storeu_ps(c + (i) * ldc + 8, c##i##1);", T_GEMM,
      "AVX2 float kernel drops alpha on the second half"),
    M("gemm_kernels.c", "_mm256_mul_ps(_mm256_loadu_ps(cr), vb)", "_mm256_loadu_ps(cr)", T_GEMM,
      "AVX2 float kernel drops beta"),
    M("gemm_kernels.c", "c##i##0 = _mm256_fmadd_pd(ai, b0, c##i##0);",
      "c##i##0 = _mm256_fmadd_pd(ai, b1, c##i##0);", T_GEMM,
      "AVX2 double kernel: first half uses the second B vector"),
    M("gemm_kernels.c", "_mm256_mul_pd(_mm256_loadu_pd(cr + 4), vb)", "_mm256_loadu_pd(cr + 4)",
      T_GEMM, "AVX2 double kernel drops beta on the second half"),
    M("gemm_kernels.c", "c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0);",
      "c##i##0 = _mm512_fmadd_ps(ai, b1, c##i##0);", T_GEMM,
      "AVX-512 float kernel: first half uses the second B vector", nth=0,
      needs="avx512"),

    # ---- optimizers
    M("optim_impl.h", "T d = g[i] * grad_scale;", "T d = g[i];", T_OPT,
      "SGD ignores the gradient scale", nth=0),
    M("optim_impl.h", "if (weight_decay != 0) d += weight_decay * p[i];",
      "if (weight_decay != 0) d -= weight_decay * p[i];", T_OPT,
      "SGD weight decay sign flipped", nth=0),
    M("optim_impl.h", "T buf = momentum * v[i] + d;", "T buf = momentum * v[i] - d;", T_OPT,
      "SGD momentum buffer subtracts the gradient"),
    M("optim_impl.h", "T buf = momentum * v[i] + d;", "T buf = v[i] + d;", T_OPT,
      "SGD momentum buffer not decayed"),
    M("optim_impl.h", "d = nesterov ? d + momentum * buf : buf;",
      "d = nesterov ? buf + momentum * d : buf;", T_OPT, "Nesterov step terms swapped"),
    M("optim_impl.h", "d = nesterov ? d + momentum * buf : buf;", "d = buf;", T_OPT,
      "Nesterov ignored"),
    M("optim_impl.h", "v[i] = buf;", "v[i] = d;", T_OPT, "SGD momentum buffer not kept"),
    M("optim_impl.h", "p[i] -= lr * d;", "p[i] += lr * d;", T_OPT, "SGD ascends", quick=True),
    M("optim_impl.h", "T d = g[i] * grad_scale;", "T d = g[i];", T_OPT,
      "Adam ignores the gradient scale", nth=1),
    M("optim_impl.h", "if (decoupled)\n                p[i] *= shrink;",
      "if (!decoupled)\n                p[i] *= shrink;", T_OPT, "Adam and AdamW decay swapped"),
    M("optim_impl.h", "d += weight_decay * p[i];\n        }", "d -= weight_decay * p[i];\n        }",
      T_OPT, "Adam L2 weight decay sign flipped"),
    M("optim_impl.h", "T mi = beta1 * m[i] + c1 * d;", "T mi = beta2 * m[i] + c1 * d;", T_OPT,
      "Adam first moment decays with beta2"),
    M("optim_impl.h", "T mi = beta1 * m[i] + c1 * d;", "T mi = beta1 * m[i] + d;", T_OPT,
      "Adam first moment without (1 - beta1)"),
    M("optim_impl.h", "T vi = beta2 * v[i] + c2 * d * d;", "T vi = beta1 * v[i] + c2 * d * d;",
      T_OPT, "Adam second moment decays with beta1"),
    M("optim_impl.h", "T vi = beta2 * v[i] + c2 * d * d;", "T vi = beta2 * v[i] + c2 * d;",
      T_OPT, "Adam second moment of d, not d^2"),
    M("optim_impl.h", "m[i] = mi;", "m[i] = d;", T_OPT, "Adam first moment not kept"),
    M("optim_impl.h", "T denom = sqrt(vi) / bc2_sqrt + eps;",
      "T denom = (sqrt(vi) + eps) / bc2_sqrt;", T_OPT,
      "Adam eps inside the bias correction", quick=True),
    M("optim_impl.h", "T denom = sqrt(vi) / bc2_sqrt + eps;", "T denom = sqrt(vi) / bc2_sqrt;",
      T_OPT, "Adam without eps"),
    M("optim_impl.h", "T denom = sqrt(vi) / bc2_sqrt + eps;",
      "T denom = sqrt(vi / bc2_sqrt) + eps;", T_OPT, "Adam bias correction under the root"),
    M("optim_impl.h", "p[i] -= step_size * (mi / denom);", "p[i] += step_size * (mi / denom);",
      T_OPT, "Adam ascends"),
    M("optim_impl.h", "double bc1 = 1.0 - pow((double)beta1, (double)step);",
      "double bc1 = 1.0 - pow((double)beta1, (double)step + 1.0);", T_OPT,
      "Adam first bias correction one step ahead"),
    M("optim_impl.h", "double bc2 = 1.0 - pow((double)beta2, (double)step);",
      "double bc2 = 1.0 - pow((double)beta1, (double)step);", T_OPT,
      "Adam second bias correction with beta1"),
    M("optim_impl.h", "T step_size = (T)((double)lr / bc1);", "T step_size = (T)((double)lr);",
      T_OPT, "Adam without the first bias correction"),
    M("optim_impl.h", "T bc2_sqrt = (T)sqrt(bc2);", "T bc2_sqrt = (T)bc2;", T_OPT,
      "Adam second bias correction without the root"),
    M("optim_impl.h", "T shrink = (T)(1.0 - (double)lr * (double)weight_decay);",
      "T shrink = (T)(1.0 - (double)weight_decay);", T_OPT, "AdamW decay without lr"),
    M("optim_impl.h", "T c1 = (T)1 - beta1, c2 = (T)1 - beta2;",
      "T c1 = (T)1 - beta1, c2 = (T)1 - beta1;", T_OPT, "Adam c2 = 1 - beta1"),
    M("optim_impl.h", "if (step < 1) step = 1;", "if (step < 1) step = 2;", T_OPT,
      "Adam step 0 treated as step 2"),
    M("optim_impl.h", "if (weight_decay != 0) d += weight_decay * p[i];",
      "if (weight_decay != 0) d -= weight_decay * p[i];", T_OPT,
      "RMSprop weight decay sign flipped", nth=1),
    M("optim_impl.h", "T vi = alpha * v[i] + c * d * d;", "T vi = alpha * v[i] + c * d;", T_OPT,
      "RMSprop average of d, not d^2"),
    M("optim_impl.h", "T avg = sqrt(vi) + eps;", "T avg = sqrt(vi + eps);", T_OPT,
      "RMSprop eps under the root"),
    M("optim_impl.h", "T bi = momentum * buf[i] + d / avg;", "T bi = momentum * buf[i] + d;",
      T_OPT, "RMSprop momentum of the raw gradient"),
    M("optim_impl.h", "p[i] -= lr * (d / avg);", "p[i] -= lr * (d * avg);", T_OPT,
      "RMSprop multiplies by the average"),
    M("optim_impl.h", "T c = (T)1 - alpha;", "T c = alpha;", T_OPT, "RMSprop c = alpha"),

    # ---- dropout
    M("dropout_impl.h", "y[i] = keep ? x[i] / keep_prob : (T)0;", "y[i] = keep ? x[i] : (T)0;",
      T_DROP, "dropout does not rescale the kept elements", quick=True),
    M("dropout_impl.h", "int keep = (uint64_t)u[i & 3] >= thresh;",
      "int keep = (uint64_t)u[i & 3] < thresh;", T_DROP, "dropout keeps with probability p"),
    M("dropout_impl.h", "int keep = (uint64_t)u[i & 3] >= thresh;",
      "int keep = (uint64_t)u[i & 3] > thresh;", T_DROP,
      "dropout drops the element whose bits equal the threshold"),
    M("dropout_impl.h", "int keep = (uint64_t)u[i & 3] >= thresh;",
      "int keep = (uint64_t)u[i & 1] >= thresh;", T_DROP,
      "dropout reuses two of the four Philox lanes"),
    M("dropout_impl.h", "dropout_threshold((double)p), seed, step, (T)1 - p};",
      "dropout_threshold((double)p), seed, step, (T)1 + p};", T_DROP, "keep probability 1 + p"),
    M("dropout_impl.h", "FN(dropout_apply)(dx, NULL, dy, n, p, seed, step);",
      "FN(dropout_apply)(dx, NULL, dy, n, p, seed, step + 1);", T_DROP,
      "dropout backward regenerates another mask"),
    M("dropout.c", "k0 += PHILOX_W0;", "k0 += PHILOX_W1;", T_DROP,
      "Philox key schedule uses the wrong Weyl constant"),
    M("dropout.c", "for (int r = 0; r < 10; r++) {", "for (int r = 0; r < 7; r++) {", T_DROP,
      "Philox with 7 rounds instead of 10"),
    M("dropout.c", "return (uint64_t)ceil(p * 4294967296.0);",
      "return (uint64_t)ceil(p * 4294967296.0) + 4096;", T_DROP,
      "dropout threshold 2^-20 too high"),

    # ---- norm (gradient clipping's sum of squares)
    M("norm_impl.h", "a1 += (double)xc[i + 1] * (double)xc[i + 1];",
      "a1 += (double)xc[i + 1] * (double)xc[i];", T_NORM, "sum of squares: a cross term"),
    M("norm_impl.h", "for (; i < m; i++) a0 += (double)xc[i] * (double)xc[i];",
      "for (; i + 1 < m; i++) a0 += (double)xc[i] * (double)xc[i];", T_NORM,
      "sum of squares drops the last tail element"),
    M("norm_impl.h", "j->part[c] = (a0 + a1) + (a2 + a3);", "j->part[c] = (a0 + a1) + a2;",
      T_NORM, "sum of squares drops the fourth chain", quick=True),
    M("norm_impl.h", "for (int64_t c = 0; c < chunks; c++) total += part[c];",
      "for (int64_t c = 0; c < chunks; c++) total = part[c];", T_NORM,
      "sum of squares keeps the last chunk only"),

    # ---- gather / scatter of categorical codes
    M("gather_impl.h", "if (r < 0) continue;\n            const T *restrict wr",
      "if (r <= 0) continue;\n            const T *restrict wr", T_GATHER,
      "gather skips code 0 (row 0 of w)"),
    M("gather_impl.h", "for (int64_t j = 0; j < oc; j++) yr[j] += wr[j];",
      "for (int64_t j = 0; j < oc; j++) yr[j] = wr[j];", T_GATHER,
      "gather overwrites instead of adding", quick=True),
    M("gather_impl.h", "if (r < r0 || r >= r1) continue;\n            T *restrict dwr",
      "if (r <= r0 || r >= r1) continue;\n            T *restrict dwr", T_GATHER,
      "scatter skips the first code row"),
    M("gather_impl.h", "for (int64_t j = j0; j < j1; j++) dwr[j] += dzr[j];",
      "for (int64_t j = j0; j < j1; j++) dwr[j] = dzr[j];", T_GATHER,
      "scatter overwrites instead of adding"),
    M("gather_impl.h", "for (int64_t i = r0 * jb->oc; i < r1 * jb->oc; i++) jb->dw[i] = 0;",
      "for (int64_t i = r0 * jb->oc; i < r1 * jb->oc - 1; i++) jb->dw[i] = 0;", T_GATHER,
      "scatter leaves the last code row's last element unzeroed"),
    M("gather_impl.h", "int64_t j0 = s * SCATTER_STRIPE, j1 = NC_MIN(oc, j0 + SCATTER_STRIPE);",
      "int64_t j0 = s * SCATTER_STRIPE, j1 = NC_MIN(oc, j0 + SCATTER_STRIPE - 1);", T_GATHER,
      "scatter stripes miss a column"),

    # ---- the fused small-network step
    M("mlp_small_isa.h", "acc[m][s] = start ? LD(start + m * lds + s * NV) : FNI(splat)((T)0);",
      "acc[m][s] = FNI(splat)((T)0);", T_FUSED,
      "register tile ignores its start (bias, running gradient)", quick=True),
    M("mlp_small_isa.h", "for (int s = 0; s < ns; s++) acc[m][s] = FNI(vfma)(av, bv[s], acc[m][s]);",
      "for (int s = 0; s < ns; s++) acc[m][s] = FNI(vfma)(av, bv[0], acc[m][s]);", T_FUSED,
      "register tile's second vector uses the first B vector"),
    M("vec_isa.h", "for (int q = 0; q < (int)NV; q++) r[q] = NC_FMA_T(a[q], b[q], c[q]);",
      "for (int q = 0; q < (int)NV; q++) r[q] = NC_FMA_T(a[q], b[q], (T)0);", T_FUSED,
      "portable vector FMA drops the addend", env=PORTABLE),
    M("vec_isa.h", "return (FNI(vec))_mm256_fmadd_ps((__m256)a, (__m256)b, (__m256)c);",
      "return (FNI(vec))_mm256_fmadd_ps((__m256)a, (__m256)a, (__m256)c);", T_FUSED,
      "AVX2 float vector FMA squares a", env=AVX2),
    M("vec_isa.h", "return (FNI(vec))_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)c);",
      "return (FNI(vec))_mm256_fmadd_pd((__m256d)a, (__m256d)b, (__m256d)a);", T_FUSED,
      "AVX2 double vector FMA adds a", env=AVX2),
    M("mlp_small_isa.h", "T a = b[j];\n                for (int64_t p = 0; p < c; p++)",
      "T a = 0;\n                for (int64_t p = 0; p < c; p++)", T_FUSED,
      "forward's scalar column tail drops the bias"),
    M("mlp_small_isa.h", "return bias + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])));",
      "return bias + (((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + acc[6]));",
      T_FUSED, "narrow forward drops the eighth partial sum", env=PORTABLE),
    M("mlp_small_isa.h", "return bias + (((acc[0]", "return (((acc[0]",
      T_FUSED, "narrow forward drops the bias (double, and rows past the fours)"),
    M("mlp_small_isa.h", "for (int q = 0; p < c; p++, q++) acc[q] = NC_FMA_T(hr[p], wr[p], acc[q]);",
      "for (int q = 0; p < c; p++, q++) acc[q] = NC_FMA_T(hr[p], wr[p], (T)0);", T_FUSED,
      "narrow forward's tail overwrites the partial sums"),
    M("mlp_small_isa.h", "        if (sizeof(T) == 4)\n            for (; i + 4 <= rows; i += 4)",
      "        if (sizeof(T) == 3)\n            for (; i + 4 <= rows; i += 4)", T_FUSED,
      "narrow forward without the four-row vector version",
      equivalent="the vector's 8 lanes are the 8 scalar partial sums, each the same chain "
                 "of fused multiply-adds, summed in the same order: the same bits"),
    M("mlp_small_isa.h", "z[r * ldz] = bias + (lo + hi);", "z[r * ldz] = bias + lo;", T_FUSED,
      "four-row narrow forward drops the upper four lanes"),
    M("mlp_small_isa.h", "a[r] = _mm256_blendv_ps(a[r], f, _mm256_castsi256_ps(on));",
      "a[r] = f;", T_FUSED, "four-row narrow forward's tail adds into every lane",
      equivalent="the lanes past the tail add 0 * 0: a lane's -0 becomes +0, which the sum "
                 "of the lanes and the bias then never tells apart"),
    M("mlp_small_isa.h", "for (int r = 0; r < 4; r++) a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(h + r * c + p), wv, a[r]);",
      "for (int r = 0; r < 4; r++) a[r] = _mm256_fmadd_ps(_mm256_loadu_ps(h + p), wv, a[r]);",
      T_FUSED, "four-row narrow forward reads the first row four times"),
    M("mlp_small_isa.h", "v = (FNI(vec))(~neg & (__typeof__(neg))v);", "v = v;", T_FUSED,
      "ReLU in the forward tile's epilogue does nothing"),
    M("mlp_small_isa.h", "v = (FNI(vec))(on & (__typeof__(on))v);", "v = v;", T_FUSED,
      "ReLU's backward in the backprop tile's epilogue does nothing", quick=True),
    M("mlp_small_isa.h", "z[i * oc + j] = relu ? SMALL_RELU(a) : a;", "z[i * oc + j] = a;",
      T_FUSED, "forward's scalar columns skip ReLU"),
    M("mlp_small_isa.h", "dh[i * c + p] = ym ? SMALL_MASK(ym[i * c + p], a) : a;",
      "dh[i * c + p] = a;", T_FUSED, "backprop's scalar columns skip ReLU's backward"),
    M("mlp_small_isa.h", "if (!relu && net->acts[l] != NC_ACT_IDENTITY)",
      "if (!relu && net->acts[l] != NC_ACT_IDENTITY && net->acts[l] != NC_ACT_TANH)", T_FUSED,
      "tanh layers skip their activation"),
    M("mlp_small_isa.h", "int relu = net->acts[l] == NC_ACT_RELU && cin > 0 && !(l == 0 && ncat > 0);",
      "int relu = net->acts[l] == NC_ACT_RELU && cin > 0;", T_FUSED,
      "ReLU clamps before the category rows are added"),
    M("mlp_small_isa.h", "            for (; j + 4 * NV <= oc; j += 4 * NV) DW(NP, 4, j);",
      "            for (; j + 4 * NV <= oc; j += 4 * NV) DW(NP, 4, j + NV);", T_FUSED,
      "weight gradient's wide tiles start a vector late"),
    M("mlp_small_isa.h", "for (int s = 0; s < 4; s++) a[s] = FNI(vfma)(d, LD(h + r * c + p + s * NV), a[s]);",
      "for (int s = 0; s < 4; s++) a[s] = FNI(vfma)(d, LD(h + r * c + p), a[s]);", T_FUSED,
      "one-output weight gradient: four chains read the same vector"),
    M("mlp_small_isa.h", "a = FNI(vfma)(FNI(splat)(dz[r]), LD(h + r * c + p), a);",
      "a = FNI(vfma)(FNI(splat)(dz[0]), LD(h + r * c + p), a);", T_FUSED,
      "one-output weight gradient: vector tail uses row 0's dz"),
    M("mlp_small_isa.h", "for (int64_t r = 0; r < rows; r++) a = NC_FMA_T(dz[r], h[r * c + p], a);",
      "for (int64_t r = 0; r < rows; r++) a = NC_FMA_T(dz[r], h[p], a);", T_FUSED,
      "one-output weight gradient: scalar tail reads row 0's input"),
    M("mlp_small_isa.h", "T a = first ? (T)0 : gw[p];", "T a = (T)0;", T_FUSED,
      "one-output weight gradient: scalar tail restarts every block"),
    M("mlp_small_isa.h", "T a = first ? (T)0 : gw[p * oc + j];", "T a = (T)0;", T_FUSED,
      "weight gradient's scalar columns restart every block"),
    M("mlp_small_isa.h", "for (int s = 0; s < 4; s++) a[s] += LD(dz + r * oc + j + s * NV);",
      "for (int s = 0; s < 4; s++) a[s] += LD(dz + r * oc + j);", T_FUSED,
      "bias gradient: four chains read the same vector"),
    M("mlp_small_isa.h", "for (int64_t r = 0; r < rows; r++) a += LD(dz + r * oc + j);",
      "for (int64_t r = 1; r < rows; r++) a += LD(dz + r * oc + j);", T_FUSED,
      "bias gradient's vector tail skips the block's first row"),
    M("mlp_small_isa.h", "for (int64_t r = 0; r < rows; r++) a += dz[r * oc + j];",
      "for (int64_t r = 0; r < rows - 1; r++) a += dz[r * oc + j];", T_FUSED,
      "bias gradient's scalar tail skips the block's last row"),
    M("mlp_small_isa.h", "for (int64_t j = 0; j < oc; j++) a = NC_FMA_T(dz[i * oc + j], wt[j * c + p], a);",
      "for (int64_t j = 1; j < oc; j++) a = NC_FMA_T(dz[i * oc + j], wt[j * c + p], a);",
      T_FUSED, "backprop's scalar tail skips output 0"),
    M("mlp_small_isa.h", "FNI(tile)(dh + i * c + p0, c, NULL, 0, dz + i * oc, oc, 1, wt + p0, c, oc, NR, BP_NS, 0,",
      "FNI(tile)(dh + i * c + p0, c, NULL, 0, dz + i * oc, oc, 1, wt + p0, c, oc - 1, NR, BP_NS, 0,",
      T_FUSED, "backprop's tiles drop the last output"),
    M("mlp_small_isa.h", "for (int64_t j = 0; j < oc; j++) zr[j] += wr[j];",
      "for (int64_t j = 0; j < oc; j++) zr[j] = wr[j];", T_GATHER,
      "fused gather overwrites instead of adding"),
    M("mlp_small_isa.h", "if (r < cd || r >= c) continue;", "if (r <= cd || r >= c) continue;",
      T_GATHER, "fused scatter skips the first code row"),
    M("mlp_small_isa.h", "if (first && cin < c) /* code rows", "if (first && cin > c) /* code rows",
      T_GATHER, "fused step does not zero the code rows' gradient"),
    M("mlp_small_isa.h", "labels ? labels + r0 : NULL, sw ? sw + r0 : NULL, NULL, 0,",
      "labels ? labels : NULL, sw ? sw + r0 : NULL, NULL, 0,", T_FUSED,
      "fused loss reads the first block's labels for every block"),
    M("mlp_small_isa.h", "labels ? labels + r0 : NULL, sw ? sw + r0 : NULL, NULL, 0,",
      "labels ? labels + r0 : NULL, sw ? sw : NULL, NULL, 0,", T_FUSED + T_TRAIN,
      "fused loss reads the first block's sample weights for every block"),
    M("mlp_small_isa.h", "FNI(small_accumulate)(gw, gw + c * oc, hprev, dy, rows, cin, oc, first);",
      "FNI(small_accumulate)(gw, gw + c * oc, hprev, dy, rows, cin, oc, 1);", T_FUSED,
      "fused weight gradient restarts every block"),
    M("mlp_small_impl.h", "for (int64_t i = i0; i < i1; i++) j->grads[i] += gp[i];",
      "for (int64_t i = i0; i < i1; i++) j->grads[i] = gp[i];", T_FUSED,
      "group partials overwrite the gradient"),
    M("mlp_small_impl.h", "for (int64_t g = 0; g < groups; g++) total += gloss[g];",
      "for (int64_t g = 1; g < groups; g++) total += gloss[g];", T_FUSED,
      "fused loss drops group 0"),
    M("mlp_small_impl.h", "for (int64_t i = o; i < o + cw_; i++) grads[i] += l2t * params[i];",
      "for (int64_t i = o; i < o + cw_; i++) grads[i] -= l2t * params[i];", T_FUSED,
      "fused L2 term subtracted"),
    M("mlp_small_impl.h", "int64_t o = offs[l], cw_ = net->sizes[l] * net->sizes[l + 1];",
      "int64_t o = offs[l], cw_ = net->sizes[l] * net->sizes[l + 1] + net->sizes[l + 1];",
      T_FUSED, "fused L2 term also on the biases"),
    M("mlp_small_impl.h", "if (oc == 1 || (l == 0 && oc >= 8)) continue;",
      "if (oc == 1 || oc >= 8) continue;", T_FUSED,
      "hidden layers' backprop reads untransposed weights"),
    M("mlp_small_impl.h", "return kind == NC_LOSS_CE ? total / wsum : total / ((double)k * wsum);",
      "return kind == NC_LOSS_CE ? total / wsum : total / wsum;", T_FUSED,
      "fused element-wise loss value forgets K"),

    # ---- the layer-by-layer network (mlp.c)
    M("mlp_impl.h", "for (int64_t i = b * L2_BLOCK; i < i1; i++) j->dw[i] += j->l2 * j->w[i];",
      "for (int64_t i = b * L2_BLOCK; i < i1; i++) j->dw[i] -= j->l2 * j->w[i];", T_MLP,
      "backward L2 term subtracted"),
    M("mlp_impl.h", "FN(nc_dropout_backward)(dxl, dxl, n * c, (T)rate, layer_seed(seed, l - 1),",
      "FN(nc_dropout_backward)(dxl, dxl, n * c, (T)rate, layer_seed(seed, l),", T_MLP,
      "backward regenerates the next layer's dropout mask"),
    M("mlp.c", "return seed + (uint64_t)(l + 1) * 0x9E3779B97F4A7C15ull;",
      "return seed + (uint64_t)l * 0x9E3779B97F4A7C15ull;", T_MLP + T_DROP,
      "layer 0's dropout stream is the bare seed",
      equivalent="any fixed per-layer seed gives a valid, reproducible mask; forward and "
                 "backward use the same function"),

    # ---- the training loop in C (train.c)
    M("train_impl.h", "double l2 = cfg->l2 != 0 ? cfg->l2 / ((double)m * s) : 0.0;",
      "double l2 = cfg->l2 != 0 ? cfg->l2 / (double)m : 0.0;", T_TRAIN,
      "L2 gradient not divided by the loss scale"),
    M("train_impl.h", "loss += 0.5 * (cfg->l2 / (double)m) * wsq;",
      "loss += (cfg->l2 / (double)m) * wsq;", T_TRAIN, "reported L2 term without the 1/2"),
    M("train_impl.h", "w += nc_layer_params(c, oc);", "w += c * oc;", T_TRAIN,
      "L2 term walks the parameters without skipping biases"),
    M("train_impl.h", "prog->loss_sum += loss * (double)m;", "prog->loss_sum += loss;", T_TRAIN,
      "epoch loss sum not weighted by batch rows", quick=True),
    M("train_impl.h", "prog->correct += FN(train_correct)(", "prog->correct = FN(train_correct)(",
      T_TRAIN, "correct count keeps the last batch only"),
    M("train_impl.h", "const T thr = loss == NC_LOSS_BCE ? (T)0 : (T)0.5;",
      "const T thr = loss == NC_LOSS_BCE ? (T)0.5 : (T)0.5;", T_TRAIN,
      "binary accuracy thresholds logits at 0.5"),
    M("train_impl.h", "c += (out[i * k] > thr) == (t[i * k] > (T)0.5);",
      "c += (out[i * k] > thr) != (t[i * k] > (T)0.5);", T_TRAIN, "binary accuracy inverted"),
    M("train_impl.h", "if (v[j] > v[best]) best = j;", "if (v[j] >= v[best]) best = j;", T_TRAIN,
      "argmax takes the last of tied values"),
    M("train_impl.h", "if (rsw) bsw[i] = rsw[r];", "if (rsw) bsw[i] = rsw[lo + i];", T_TRAIN,
      "shuffled batches take unshuffled sample weights"),
    M("train_impl.h", "*sw = rsw ? rsw + lo : NULL;", "*sw = rsw ? rsw : NULL;", T_TRAIN,
      "unshuffled batches take the first batch's sample weights"),
    M("train_impl.h", "if (norm > cfg->clip_norm) scale = s * cfg->clip_norm / norm;",
      "if (norm > cfg->clip_norm) scale = cfg->clip_norm / norm;", T_TRAIN,
      "clipping forgets the loss scale"),
    M("train_impl.h", "if (norm > cfg->clip_norm) scale = s * cfg->clip_norm / norm;",
      "if (norm < cfg->clip_norm) scale = s * cfg->clip_norm / norm;", T_TRAIN,
      "clipping scales small gradients up"),
    M("train_impl.h", "double norm = s * sqrt(FN(nc_sum_squares)(grads, np));",
      "double norm = s * FN(nc_sum_squares)(grads, np);", T_TRAIN,
      "clipping norm without the root"),
    M("train_impl.h", "opt->t += 1;", "opt->t += 2;", T_TRAIN,
      "optimizer step count advances by two (Adam bias correction)"),
    M("train_impl.h", "loss *= s;", "loss *= 1.0;", T_TRAIN, "reported loss not scaled"),
]

for _i, _m in enumerate(MUTANTS):
    _m.id = f"{_i + 1:03d}"


# --------------------------------------------------------------------------- helpers
def log(msg):
    print(msg, flush=True)


def apply(text, m):
    """The source with mutant m applied; ValueError when the snippet does not select one
    place (missing, or not unique without nth)."""
    if m.regex:
        hits = list(re.finditer(m.find, text))
    else:
        hits, start = [], 0
        while True:
            i = text.find(m.find, start)
            if i < 0:
                break
            hits.append((i, i + len(m.find)))
            start = i + 1
        hits = [_Span(a, b) for a, b in hits]
    if m.nth is None and len(hits) != 1:
        raise ValueError(f"{m.file}: snippet found {len(hits)} times: {m.find[:60]!r}")
    if m.nth is not None and m.nth >= len(hits):
        raise ValueError(f"{m.file}: occurrence {m.nth} of {len(hits)}: {m.find[:60]!r}")
    h = hits[m.nth or 0]
    repl = h.expand(m.repl) if m.regex else m.repl
    return text[:h.start()] + repl + text[h.end():]


class _Span:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def start(self):
        return self.a

    def end(self):
        return self.b


# a quoted include, or a header named by a macro that a template header includes
# (#define NC_TEMPLATE "loss_impl.h", then #include NC_TEMPLATE in instantiate.h)
INCLUDE = re.compile(r'^\s*#\s*(?:include|define\s+\w+)\s+"([^"]+\.[ch])"', re.M)


def includers(root, header):
    """Translation units (csrc/*.c and the Cython module's C file) that include `header`
    directly or through other headers."""
    def incs(path):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return set(INCLUDE.findall(f.read()))
        except OSError:
            return set()
    csrc = os.path.join(root, "csrc")
    units = sorted(os.path.join("csrc", f) for f in os.listdir(csrc) if f.endswith(".c"))
    units.append(os.path.join("neuralcli", "_kernels.c"))
    out = []
    for u in units:
        seen, todo = set(), list(incs(os.path.join(root, u)))
        while todo:
            h = todo.pop()
            if h in seen:
                continue
            seen.add(h)
            todo.extend(incs(os.path.join(csrc, h)))
        if header in seen:
            out.append(u)
    return out


@dataclass
class Build:
    compile: dict        # source path (relative) -> argv
    objects: dict        # source path -> object path
    link: list
    copy: tuple          # (built .so, in-place .so)


def build_copy(root):
    """Build the copy in place once; return the commands setup.py ran."""
    env = dict(os.environ)
    env.pop("NEURALCLI_EXTRA_CFLAGS", None)
    p = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-v", "--force"],
                       cwd=root, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:] + p.stderr[-4000:])
        raise SystemExit("c_mutants: the unmutated build failed")
    compile_, objects, link, copy = {}, {}, None, None
    for line in (p.stdout + "\n" + p.stderr).splitlines():
        line = line.strip()
        if not line:
            continue
        m = re.match(r"copying (\S+\.so) -> (\S+)$", line)
        if m:
            copy = (m.group(1), m.group(2))
            continue
        try:
            argv = shlex.split(line)
        except ValueError:
            continue
        if not argv or not re.search(r"(gcc|cc|clang)(-\d+)?$", os.path.basename(argv[0])):
            continue
        if "-c" in argv and "-o" in argv:
            src = argv[argv.index("-c") + 1]
            compile_[os.path.normpath(src)] = argv
            objects[os.path.normpath(src)] = argv[argv.index("-o") + 1]
        elif "-shared" in argv:
            link = argv
    if link is None or not compile_:
        raise SystemExit("c_mutants: could not find the compile and link commands in the "
                         "build output")
    if copy is None:
        out = link[link.index("-o") + 1]
        copy = (out, os.path.join("neuralcli", os.path.basename(out)))
    return Build(compile_, objects, link, copy)


def detect_isa(root):
    p = subprocess.run([sys.executable, "-c",
                        "from neuralcli import _kernels; print(_kernels.detect_isa())"],
                       cwd=root, capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=root))
    return p.stdout.strip() or "portable"


def run(argv, cwd, timeout=None, env=None):
    """Run argv in its own process group; (returncode or 'timeout', output)."""
    p = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
        return p.returncode, out
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return "timeout", out


class Worker:
    """One built copy of the repository; runs mutants one at a time."""

    def __init__(self, root, build, timeout):
        self.root, self.b, self.timeout = root, build, timeout

    def test_env(self, m):
        env = {k: v for k, v in os.environ.items()
               if k not in ("NEURALCLI_ISA", "PYTHONPATH", "NEURALCLI_SKIP_REPORT")}
        env["PYTHONPATH"] = self.root
        env.update(m.env)
        return env

    def mutate(self, m):
        """Run mutant m: returns (outcome, detail)."""
        src = os.path.join(self.root, "csrc", m.file)
        with open(src, encoding="utf-8") as f:
            orig = f.read()
        mutated = apply(orig, m)
        # the file itself when it is a translation unit, and every unit that includes it
        units = set(includers(self.root, m.file))
        if m.file.endswith(".c"):
            units.add(os.path.join("csrc", m.file))
        units = sorted(units)
        if not units:
            raise SystemExit(f"c_mutants: no translation unit includes {m.file}")
        objs = [os.path.join(self.root, self.b.objects[u]) for u in units]
        saved = {o: o + ".orig" for o in objs}
        for o, s in saved.items():
            shutil.copy2(o, s)
        try:
            with open(src, "w", encoding="utf-8") as f:
                f.write(mutated)
            for u in units:
                rc, out = run(self.b.compile[u], self.root)
                if rc != 0:
                    err = [ln for ln in out.splitlines() if "error" in ln]
                    return "not viable", (err[0] if err else out[-300:]).strip()
            same = True
            for o in objs:
                with open(o, "rb") as f1, open(saved[o], "rb") as f2:
                    same = same and f1.read() == f2.read()
            if same:
                # the compiler emitted the very same code: no test can tell them apart
                return "equivalent", "same object code as the original"
            rc, out = run(self.b.link, self.root)
            if rc != 0:
                return "not viable", "link failed: " + out[-300:].strip()
            shutil.copy2(os.path.join(self.root, self.b.copy[0]),
                         os.path.join(self.root, self.b.copy[1]))
            argv = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                    "-p", "no:randomly", *m.tests]
            t0 = time.monotonic()
            rc, out = run(argv, self.root, self.timeout, self.test_env(m))
            secs = time.monotonic() - t0
            if rc == "timeout":
                return "killed", f"timeout after {self.timeout:.0f}s"
            if rc == 0:
                return "survived", f"{secs:.0f}s"
            if rc == 5 or rc == 4:
                raise SystemExit(f"c_mutants: mutant {m.id}: pytest found no tests "
                                 f"({' '.join(m.tests)}):\n{out[-1000:]}")
            failed = [ln for ln in out.splitlines()
                      if ln.startswith("FAILED") or ln.startswith("ERROR")]
            why = failed[0] if failed else f"exit {rc}"
            return "killed", why[:160]
        finally:
            with open(src, "w", encoding="utf-8") as f:
                f.write(orig)
            for o, s in saved.items():
                os.replace(s, o)


def select(args):
    ms = MUTANTS
    if args.quick:
        ms = [m for m in ms if m.quick]
    if args.equivalent:
        ms = [m for m in ms if m.equivalent]
    if args.only:
        pat = re.compile(args.only, re.I)
        ms = [m for m in ms if pat.search(m.id) or pat.search(m.file) or pat.search(m.desc)]
    return ms


def check_snippets(ms):
    bad = []
    for m in ms:
        with open(os.path.join(REPO, "csrc", m.file), encoding="utf-8") as f:
            text = f.read()
        try:
            if apply(text, m) == text:
                bad.append(f"{m.id} {m.file}: the change is empty")
        except ValueError as e:
            bad.append(f"{m.id} {e}")
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--only", metavar="PATTERN",
                    help="run mutants whose id, file or description matches (regex)")
    ap.add_argument("--quick", action="store_true", help="the fast subset, for CI")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at a time (default 1)")
    ap.add_argument("--timeout", type=float, default=300.0,
                    help="seconds for one mutant's tests (default 300)")
    ap.add_argument("--run-equivalent", action="store_true",
                    help="also run the mutants marked equivalent (they should survive)")
    ap.add_argument("--equivalent", action="store_true",
                    help="run only the mutants marked equivalent (implies --run-equivalent)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary copy")
    args = ap.parse_args()
    args.run_equivalent = args.run_equivalent or args.equivalent

    ms = select(args)
    bad = check_snippets(ms)
    if bad:
        raise SystemExit("c_mutants: mutants that do not apply:\n  " + "\n  ".join(bad))
    if args.list:
        for m in ms:
            tag = (" [equivalent: " + m.equivalent + "]") if m.equivalent else ""
            env = " " + " ".join(f"{k}={v}" for k, v in m.env.items()) if m.env else ""
            env += f" [needs {m.needs}]" if m.needs else ""
            log(f"{m.id} {m.file:18} {m.desc}{env}{' (quick)' if m.quick else ''}{tag}")
        log(f"{len(ms)} mutants, {sum(1 for m in ms if m.equivalent)} marked equivalent")
        return 0

    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="nc-cmut-")
    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True,
                               check=True).stdout.decode().split("\0")
        root0 = os.path.join(tmp, "w0")
        for f in filter(None, files):
            src = os.path.join(REPO, f)
            if not os.path.isfile(src):
                continue  # deleted in the work tree
            dst = os.path.join(root0, f)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst)
        log(f"c_mutants: building a copy in {root0} ...")
        t0 = time.monotonic()
        b = build_copy(root0)
        log(f"c_mutants: built in {time.monotonic() - t0:.0f}s "
            f"({len(b.compile)} compile commands)")
        isa = detect_isa(root0)
        jobs = max(1, min(args.jobs, len(ms)))
        roots = [root0]
        for w in range(1, jobs):
            r = os.path.join(tmp, f"w{w}")
            shutil.copytree(root0, r, symlinks=True)
            roots.append(r)
        workers = [Worker(r, b, args.timeout) for r in roots]

        results = {}
        todo = []
        for m in ms:
            if m.equivalent and not args.run_equivalent:
                results[m.id] = ("equivalent", m.equivalent)
            elif m.needs and ISA_ORDER.index(m.needs) > ISA_ORDER.index(isa):
                results[m.id] = ("skipped", f"needs {m.needs}, this CPU runs {isa}")
            else:
                todo.append(m)
        lock = threading.Lock()

        def loop(w):
            while True:
                with lock:
                    if not todo:
                        return
                    m = todo.pop(0)
                t0 = time.monotonic()
                outcome, detail = w.mutate(m)
                if m.equivalent and outcome == "survived":
                    outcome = "equivalent"
                with lock:
                    results[m.id] = (outcome, detail)
                    log(f"{m.id} {outcome:10} {time.monotonic() - t0:5.0f}s {m.file:18} "
                        f"{m.desc} -- {detail}")

        threads = [threading.Thread(target=loop, args=(w,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        if args.keep:
            log(f"c_mutants: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    # ---- summary
    kinds = ["killed", "survived", "not viable", "equivalent", "skipped"]
    per_file = {}
    for m in ms:
        per_file.setdefault(m.file, {k: 0 for k in kinds})[results[m.id][0]] += 1
    log("")
    log(f"{'file':20}" + "".join(f"{k:>12}" for k in kinds))
    tot = {k: 0 for k in kinds}
    for f, c in per_file.items():
        log(f"{f:20}" + "".join(f"{c[k]:>12}" for k in kinds))
        for k in kinds:
            tot[k] += c[k]
    log(f"{'total':20}" + "".join(f"{tot[k]:>12}" for k in kinds))
    viable = tot["killed"] + tot["survived"]
    log(f"score: {tot['killed']}/{viable} viable mutants killed; "
        f"{time.monotonic() - t_start:.0f}s")
    surv = [m for m in ms if results[m.id][0] == "survived"]
    for m in surv:
        log(f"SURVIVED {m.id} {m.file}: {m.desc}")
    for m in ms:
        if results[m.id][0] == "skipped":
            log(f"SKIPPED {m.id} {m.file}: {m.desc}: {results[m.id][1]}")
    for m in ms:
        if results[m.id][0] == "not viable":
            log(f"NOT VIABLE {m.id} {m.file}: {m.desc}: {results[m.id][1]}")
    # an equivalent mutant run with --run-equivalent that is killed is not equivalent
    wrong = [m for m in ms if m.equivalent and args.run_equivalent
             and results[m.id][0] == "killed"]
    for m in wrong:
        log(f"MARKED EQUIVALENT BUT KILLED {m.id} {m.file}: {m.desc}")
    return 1 if surv or wrong else 0


if __name__ == "__main__":
    sys.exit(main())
