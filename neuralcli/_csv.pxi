# Shim for the CSV parser (included by _kernels.pyx): file bytes go into the parser's own
# buffer, typed columns come out as C buffers that numpy views without a copy.
from cpython.unicode cimport PyUnicode_DecodeUTF8

cdef extern from "Python.h":
    object PyMemoryView_FromMemory(char *mem, Py_ssize_t size, int flags)
    int PyBUF_WRITE

CSV_KINDS = {"number": NC_CSV_NUMBER, "text": NC_CSV_TEXT, "date": NC_CSV_DATE}
CSV_STATUS = {NC_CSV_OK: "ok", NC_CSV_RAGGED: "ragged", NC_CSV_UNCLOSED: "unclosed",
              NC_CSV_BADUTF8: "utf8"}
_CSV_OUTPUTS = {"values": (NC_CSV_VALUES, 8), "missing": (NC_CSV_MISSING, 1),
                "codes": (NC_CSV_CODES, 4), "lines": (NC_CSV_LINES, 8)}


cdef class CsvBuffer:
    """Owns one malloc'd output buffer of the parser; freed with the last array on it."""
    cdef void *data
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t one

    def __getbuffer__(self, Py_buffer *view, int flags):
        view.buf = self.data
        view.obj = self
        view.len = self.nbytes
        view.readonly = 0
        view.itemsize = 1
        view.format = b"B"
        view.ndim = 1
        view.shape = &self.nbytes
        view.strides = &self.one
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer *view):
        pass

    def __dealloc__(self):
        nc_csv_release(self.data, <size_t>self.nbytes)


cdef _first(int64_t row, const char *text, size_t n):
    if row < 0:
        return None
    return (row, text[:n].decode("utf-8", "replace"))


cdef class CsvParser:
    """One read of one file: nc_csv_* behind methods taking Python values."""
    cdef nc_csv *p
    cdef readonly int64_t ncols

    def __cinit__(self, int64_t ncols, kinds, str delimiter, int64_t skip_records,
                  int threads):
        codes = [CSV_KINDS[name] for name in kinds]
        if len(codes) != ncols:
            raise ValueError(f"{len(codes)} column kinds for {ncols} columns")
        d = delimiter.encode("utf-8")
        if len(d) != 1 or d in (b'"', b"\r", b"\n"):
            raise ValueError(f"the delimiter must be one ASCII character other than a quote "
                             f"or line end, got {delimiter!r}")
        cdef int[::1] kv = np.asarray(codes + [0], dtype=np.intc)
        self.ncols = ncols
        self.p = nc_csv_new(ncols, &kv[0], <char>d[0], skip_records, threads)
        if self.p == NULL:
            raise MemoryError("no memory for the CSV parser")

    def __dealloc__(self):
        nc_csv_free(self.p)

    def set_format(self, int64_t col, str decimal, str thousands, str currency, bint percent):
        if not 0 <= col < self.ncols:
            raise IndexError(f"column {col} out of range")
        marks = [None if m is None else m.encode("utf-8")
                 for m in (decimal, thousands, currency)]
        if nc_csv_set_format(self.p, col, <const char *>marks[0] if marks[0] else NULL,
                             <const char *>marks[1] if marks[1] else NULL,
                             <const char *>marks[2] if marks[2] else NULL, percent):
            raise ValueError(f"number format marks too long: {marks}")

    def add_na(self, str value):
        b = value.encode("utf-8")
        if nc_csv_add_na(self.p, b, len(b)):
            raise MemoryError("no memory for a missing-value marker")

    def space(self, size_t block):
        """A writable memoryview where the next bytes of the file go."""
        cdef size_t avail = 0
        cdef uint8_t *ptr = nc_csv_space(self.p, block, &avail)
        if ptr == NULL:
            raise MemoryError("no memory for a block of the file")
        return PyMemoryView_FromMemory(<char *>ptr, avail, PyBUF_WRITE)

    def expect(self, size_t nbytes):
        """The file's size, when known: the columns are sized once for it."""
        nc_csv_expect(self.p, nbytes)

    def feed(self, size_t n, bint eof):
        """Parse after n bytes were written into space(); the status name."""
        cdef int r
        with nogil:
            r = nc_csv_feed(self.p, n, eof)
        if r == NC_CSV_NOMEM:
            raise MemoryError("no memory while parsing the file")
        return CSV_STATUS[r]

    def error(self):
        cdef const nc_csv_error *e = nc_csv_last_error(self.p)
        return {"status": CSV_STATUS.get(e.status, "?"), "line": e.line, "byte": e.byte,
                "fields": e.fields, "multiline": bool(e.multiline),
                "last_empty": bool(e.last_empty)}

    def rows(self):
        return nc_csv_rows(self.p)

    def flush(self):
        """Start the next chunk: rows restart at 0, dictionaries and counts go on."""
        nc_csv_flush(self.p)

    def stats(self, int64_t col):
        if not 0 <= col < self.ncols:
            raise IndexError(f"column {col} out of range")
        cdef nc_csv_stats s
        nc_csv_column_stats(self.p, col, &s)
        return {"present": s.present, "bad": s.bad, "nonfinite": s.nonfinite,
                "numbers": s.numbers, "integral": bool(s.integral),
                "has_time": bool(s.has_time),
                "first_bad": _first(s.bad_row, s.bad_text, s.bad_len),
                "first_nonfinite": _first(s.nonfinite_row, s.nonfinite_text,
                                          s.nonfinite_len),
                "first_text": _first(s.text_row, s.text_text, s.text_len)}

    def take(self, int64_t col, str what):
        """An output buffer handed over to Python (a CsvBuffer), or None when there are no
        rows. MemoryError when none comes: taken already, not one of the column's outputs,
        or out of memory."""
        code, itemsize = _CSV_OUTPUTS[what]
        cdef int64_t n = nc_csv_rows(self.p)
        if n == 0:
            return None
        cdef void *ptr = nc_csv_take(self.p, col, code)
        if ptr == NULL:
            raise MemoryError(f"no {what} buffer for column {col}: taken already, not "
                              f"one of its outputs, or out of memory")
        cdef CsvBuffer buf = CsvBuffer.__new__(CsvBuffer)
        buf.data = ptr
        buf.nbytes = n * itemsize
        buf.one = 1
        return buf

    def categories(self, int64_t col, int64_t start=0):
        """Text column col's distinct strings in code order from code `start` on, each
        made a str once."""
        if not 0 <= col < self.ncols:
            raise IndexError(f"column {col} out of range")
        cdef int64_t k, n = nc_csv_categories(self.p, col)
        cdef size_t ln
        cdef const char *s
        out = []
        for k in range(max(0, start), n):
            s = nc_csv_category(self.p, col, k, &ln)
            out.append(PyUnicode_DecodeUTF8(s, ln, "replace"))
        return out
