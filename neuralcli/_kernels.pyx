# cython: language_level=3
"""Thin shim over the C core: typed memoryviews in, shape and dtype checks once, then C
without the GIL. Public, friendlier entry points live in neuralcli.kernels."""
from cython cimport floating
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t

from neuralcli._kernels cimport *

ISA_NAMES = ("portable", "avx2", "avx512")
# The C enums nc_act, nc_loss, nc_optim_kind and nc_task are this module's IntEnums (cpdef
# in _kernels.pxd); names of activations and losses live in the model layer's tables.


# ------------------------------------------------------------------ runtime settings

def set_num_threads(int n):
    nc_set_num_threads(n)

def get_num_threads():
    return nc_get_num_threads()

def detect_isa():
    return ISA_NAMES[nc_detect_isa()]

def set_isa(name):
    return ISA_NAMES[nc_set_isa(ISA_NAMES.index(name))]

def get_isa():
    return ISA_NAMES[nc_get_isa()]

def pool_probe(int64_t[::1] hits, int32_t[::1] slots, int max_threads, int64_t spin=0,
               bint nested=False):
    """Exercise the core's thread pool (tests): returns (violations, pool threads)."""
    if hits.shape[0] != slots.shape[0]:
        raise ValueError("hits and slots must have the same length")
    cdef int64_t bad
    cdef int workers = 0
    with nogil:
        bad = nc_pool_probe(&hits[0] if hits.shape[0] else NULL,
                            &slots[0] if slots.shape[0] else NULL, hits.shape[0],
                            max_threads, spin, nested, &workers)
    return bad, workers

def act_needs_z(int act):
    return bool(nc_act_needs_z(act))


# ------------------------------------------------------------------ checks

cdef inline int64_t _stride(Py_ssize_t s, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t isz,
                            str name) except -1:
    """The distance s in bytes between the starts of consecutive rows of `cols` elements,
    in elements; a single row, or rows of none, take any leading dimension."""
    if rows <= 1 or cols == 0:
        return cols if cols > 0 else 1
    if s % isz != 0 or s < cols * isz:
        raise ValueError(f"{name}: row stride {s} bytes is not a whole number of elements "
                         f"at least one row long")
    return s // isz

cdef inline int64_t _ld(const floating[:, ::1] m, str name) except -1:
    """Leading dimension in elements of a row-contiguous 2-D view."""
    return _stride(m.strides[0], m.shape[0], m.shape[1], sizeof(floating), name)

cdef inline int64_t _layout(const floating[:, :] m, str name, bint *transposed) except -1:
    """Leading dimension in elements of a 2-D view whose rows or columns are contiguous;
    *transposed is set when it is its columns: the view is then the transpose of a
    row-major matrix whose rows are its columns."""
    cdef Py_ssize_t isz = sizeof(floating)
    transposed[0] = False
    if m.shape[1] <= 1 or m.strides[1] == isz:
        return _stride(m.strides[0], m.shape[0], m.shape[1], isz, name)
    if m.shape[0] <= 1 or m.strides[0] == isz:
        transposed[0] = True
        return _stride(m.strides[1], m.shape[1], m.shape[0], isz, name)
    raise ValueError(f"{name}: neither its rows nor its columns are contiguous (strides "
                     f"{m.strides[0]} and {m.strides[1]} bytes, element {isz}); copy it")

cdef inline _shape(object got, object want, str name):
    if tuple(got) != tuple(want):
        raise ValueError(f"{name} has shape {tuple(got)}, expected {tuple(want)}")

cdef inline _mat(const floating[:, ::1] m, int64_t rows, int64_t cols, str name,
                 bint contiguous):
    """Check a 2-D view's shape, and that its rows are packed when required."""
    if m is None:
        return
    _shape((m.shape[0], m.shape[1]), (rows, cols), name)
    if contiguous and rows > 1 and m.strides[0] != cols * <Py_ssize_t>sizeof(floating):
        raise ValueError(f"{name} must be C-contiguous")

cdef inline _check_act(int act):
    if act < 0 or act >= NC_ACT_COUNT:
        raise ValueError(f"unknown activation code {act}")


# ------------------------------------------------------------------ gemm

def gemm_workspace(int64_t m, int64_t n, int64_t k, int threads, bint double):
    if double:
        return nc_gemm_workspace_f64(m, n, k, threads)
    return nc_gemm_workspace_f32(m, n, k, threads)

def gemm(floating[:, :] c, const floating[:, :] a, const floating[:, :] b, bint trans_a,
         bint trans_b, double alpha, double beta, uint8_t[::1] work):
    """c = alpha * op(a) @ op(b) + beta * c, in place. Each of c, a and b may be any 2-D
    view whose rows or columns are contiguous: a view with contiguous columns is passed as
    the transpose of a row-major matrix, and a c with contiguous columns is computed as
    c.T = alpha * op(b).T @ op(a).T + beta * c.T."""
    cdef int64_t m = c.shape[0], n = c.shape[1]
    cdef int64_t k = a.shape[0] if trans_a else a.shape[1]
    _shape((a.shape[0], a.shape[1]), (k, m) if trans_a else (m, k), "a")
    _shape((b.shape[0], b.shape[1]), (n, k) if trans_b else (k, n), "b")
    cdef bint col_a, col_b, col_c
    cdef int64_t lda = _layout(a, "a", &col_a), ldb = _layout(b, "b", &col_b)
    cdef int64_t ldc = _layout(c, "c", &col_c)
    cdef void *wp = &work[0] if work is not None and work.shape[0] > 0 else NULL
    cdef size_t wb = work.shape[0] if wp != NULL else 0
    if m == 0 or n == 0:
        return
    cdef const floating *pa = &a[0, 0] if a.shape[0] * a.shape[1] else NULL
    cdef const floating *pb = &b[0, 0] if b.shape[0] * b.shape[1] else NULL
    cdef int ta = trans_a != col_a, tb = trans_b != col_b
    if col_c:
        pa, pb, m, n, lda, ldb, ta, tb = pb, pa, n, m, ldb, lda, not tb, not ta
    with nogil:
        if floating is float:
            nc_gemm_f32(&c[0, 0], pa, pb, m, n, k, lda, ldb, ldc, ta, tb, <float>alpha,
                        <float>beta, NULL, wp, wb)
        else:
            nc_gemm_f64(&c[0, 0], pa, pb, m, n, k, lda, ldb, ldc, ta, tb, alpha, beta, NULL,
                        wp, wb)


# ------------------------------------------------------------------ activations

def act_forward(floating[:, ::1] y, const floating[:, ::1] z, int act, double param):
    """y = act(z); y may be z."""
    _check_act(act)
    _shape((y.shape[0], y.shape[1]), (z.shape[0], z.shape[1]), "y")
    cdef int64_t n = z.shape[0], c = z.shape[1]
    cdef int64_t ldy = _ld(y, "y"), ldz = _ld(z, "z")
    if n == 0 or c == 0:
        return
    with nogil:
        if floating is float:
            nc_act_forward_f32(&y[0, 0], &z[0, 0], n, c, ldy, ldz, act, <float>param)
        else:
            nc_act_forward_f64(&y[0, 0], &z[0, 0], n, c, ldy, ldz, act, param)

def act_backward(floating[:, ::1] dz, const floating[:, ::1] dy, const floating[:, ::1] y,
                 const floating[:, ::1] z, int act, double param):
    """dz = dy * act'(.); z may be None unless the activation needs it."""
    _check_act(act)
    if act == NC_ACT_STEP:
        raise ValueError("step has no derivative to propagate; it is forward only")
    if z is None and nc_act_needs_z(act):
        raise ValueError("this activation's derivative needs the pre-activation z")
    cdef int64_t n = dy.shape[0], c = dy.shape[1]
    _mat(dz, n, c, "dz", False)
    _mat(y, n, c, "y", False)
    _mat(z, n, c, "z", False)
    if n == 0 or c == 0:
        return
    cdef int64_t ld = _ld(dy, "dy")
    if _ld(dz, "dz") != ld or _ld(y, "y") != ld or (z is not None and _ld(z, "z") != ld):
        raise ValueError("dz, dy, y and z must share one row stride")
    cdef int rc
    with nogil:
        if floating is float:
            rc = nc_act_backward_f32(&dz[0, 0], &dy[0, 0], &y[0, 0],
                                     &z[0, 0] if z is not None else NULL, n, c, ld, act,
                                     <float>param)
        else:
            rc = nc_act_backward_f64(&dz[0, 0], &dy[0, 0], &y[0, 0],
                                     &z[0, 0] if z is not None else NULL, n, c, ld, act,
                                     param)
    if rc != 0:
        raise ValueError("activation has no backward")


# ------------------------------------------------------------------ dense layer

def dense_workspace(int64_t n, int64_t c, int64_t oc, int threads, bint double):
    if double:
        return nc_dense_workspace_f64(n, c, oc, threads)
    return nc_dense_workspace_f32(n, c, oc, threads)

def dense_forward(floating[:, ::1] y, floating[:, ::1] z, const floating[:, ::1] x,
                  const floating[:, ::1] w, const floating[::1] b, int act, double param,
                  uint8_t[::1] work):
    """y = act(x @ w + b); z (pre-activation) stored when given; b may be None."""
    _check_act(act)
    cdef int64_t n = x.shape[0], c = x.shape[1], oc = w.shape[1]
    _mat(x, n, c, "x", True)
    _mat(w, c, oc, "w", True)
    _mat(y, n, oc, "y", True)
    _mat(z, n, oc, "z", True)
    if z is None and nc_act_needs_z(act):
        raise ValueError("this activation needs z, the pre-activation, stored for backward")
    if b is not None:
        _shape((b.shape[0],), (oc,), "b")
    if n == 0 or oc == 0:
        return
    cdef void *wp = &work[0] if work is not None and work.shape[0] > 0 else NULL
    cdef size_t wb = work.shape[0] if wp != NULL else 0
    with nogil:
        if floating is float:
            nc_dense_forward_f32(&y[0, 0], &z[0, 0] if z is not None else NULL,
                                 &x[0, 0] if c else NULL, &w[0, 0] if c else NULL,
                                 &b[0] if b is not None else NULL, n, c, oc, act,
                                 <float>param, wp, wb)
        else:
            nc_dense_forward_f64(&y[0, 0], &z[0, 0] if z is not None else NULL,
                                 &x[0, 0] if c else NULL, &w[0, 0] if c else NULL,
                                 &b[0] if b is not None else NULL, n, c, oc, act, param,
                                 wp, wb)

def dense_backward(floating[:, ::1] dz, floating[:, ::1] dx, floating[:, ::1] dw,
                   floating[::1] db, const floating[:, ::1] dy, const floating[:, ::1] y,
                   const floating[:, ::1] z, const floating[:, ::1] x, const floating[:, ::1] w, int act,
                   double param, uint8_t[::1] work):
    """Backward of dense_forward; dx, dw and db may be None to skip them. dz, always
    given, comes first so that it fixes the dtype."""
    _check_act(act)
    if act == NC_ACT_STEP:
        raise ValueError("step has no derivative to propagate; it is forward only")
    cdef int64_t n = x.shape[0], c = x.shape[1], oc = w.shape[1]
    _mat(x, n, c, "x", True)
    _mat(w, c, oc, "w", True)
    _mat(dz, n, oc, "dz", True)
    _mat(dy, n, oc, "dy", True)
    _mat(y, n, oc, "y", True)
    _mat(z, n, oc, "z", True)
    _mat(dx, n, c, "dx", True)
    _mat(dw, c, oc, "dw", True)
    if z is None and nc_act_needs_z(act):
        raise ValueError("this activation's derivative needs z, the pre-activation")
    if db is not None:
        _shape((db.shape[0],), (oc,), "db")
    cdef void *wp = &work[0] if work is not None and work.shape[0] > 0 else NULL
    cdef size_t wb = work.shape[0] if wp != NULL else 0
    if oc == 0:
        return
    with nogil:
        if floating is float:
            nc_dense_backward_f32(&dx[0, 0] if dx is not None and n * c else NULL,
                                  &dw[0, 0] if dw is not None and c else NULL,
                                  &db[0] if db is not None else NULL,
                                  &dz[0, 0] if n else NULL, &dy[0, 0] if n else NULL,
                                  &y[0, 0] if n else NULL,
                                  &z[0, 0] if z is not None and n else NULL,
                                  &x[0, 0] if n * c else NULL, &w[0, 0] if c else NULL,
                                  n, c, oc, act, <float>param, wp, wb)
        else:
            nc_dense_backward_f64(&dx[0, 0] if dx is not None and n * c else NULL,
                                  &dw[0, 0] if dw is not None and c else NULL,
                                  &db[0] if db is not None else NULL,
                                  &dz[0, 0] if n else NULL, &dy[0, 0] if n else NULL,
                                  &y[0, 0] if n else NULL,
                                  &z[0, 0] if z is not None and n else NULL,
                                  &x[0, 0] if n * c else NULL, &w[0, 0] if c else NULL,
                                  n, c, oc, act, param, wp, wb)


include "_ops.pxi"
include "_mlp.pxi"
include "_csv.pxi"
