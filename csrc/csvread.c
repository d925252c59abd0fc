/* CSV reading: a file in large blocks, record boundaries found quote-aware, each block's
 * records parsed in parallel chunks into typed columns, the chunks merged in order. */
#define _GNU_SOURCE
#include "internal.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#include <sys/mman.h>
#endif
#if NC_X86
#include <immintrin.h>
#endif

/* Bytes kept allocated after the data: word-at-a-time scans may read 8 bytes past the
 * last record's line end, and a file ending without one gets one appended. */
#define CSV_PAD 64
/* With several threads a block's records are split into a few chunks per thread, taken
 * as threads come free, so a thread the OS stalls does not hold up the others; no chunk is
 * shorter than CSV_MIN_CHUNK bytes: below it the fork costs more than the parse. */
#define CSV_MIN_CHUNK (1 << 16)
#define CSV_CHUNKS_PER_THREAD 4
#define CSV_ROWS0 1024
/* Output columns of at least this many bytes are page mappings of their own (see
 * col_resize); smaller ones come from malloc. From CSV_HUGE on they may use huge pages. */
#define CSV_MAP_BYTES ((size_t)1 << 18)
#define CSV_PAGE ((size_t)4096)
#define CSV_HUGE ((size_t)1 << 21)
/* Bytes of UTF-8 checked at a time ahead of a chunk's parse: small enough to stay in L1. */
#define CSV_UTF8_WINDOW (1 << 14)
/* Bytes looked at for a quote, then counted for line ends, at a time: both in L1. */
#define CSV_SCAN_STEP (1 << 14)
/* A chunk's tile of rows holds about this many bytes of numbers (see csv_chunk). */
#define CSV_TILE_BYTES (1 << 14)

enum { CELL_OK = 0, CELL_NONFINITE = 1, CELL_BAD = -1 };
enum { REC_STORE = 0, REC_SKIP = 1, REC_INSPECT = 2 };

typedef struct {
    uint8_t dec[8], thou[8], cur[16];
    int dec_len, thou_len, cur_len, percent, plain;
} csv_format;

typedef struct {            /* one distinct string of a text column */
    int64_t off;            /* into the arena */
    int64_t len;
    uint32_t hash;
    int is_number;
} csv_entry;

typedef struct {            /* open addressing, slots hold entry index + 1 */
    uint32_t *slots;
    int64_t cap;
    csv_entry *ents;
    int64_t n, ents_cap;
    char *arena;
    int64_t used, arena_cap;
} csv_dict;

typedef struct {            /* the first cell of some sort, copied out of the block */
    int64_t row;
    char *text;
    size_t len;
} csv_first;

typedef struct {
    int64_t present, bad, nonfinite, numbers;
    csv_first first_bad, first_nonfinite, first_text;
    int not_integral, has_time;
} csv_stats;

/* A chunk writes its rows into the parser's columns from row `first` on, where the chunks
 * before it leave room for one row per line end. Cells go first into a tile of a few rows
 * (a column's cells side by side), copied out a column at a time when full: written
 * straight, each row would touch a cache line in every column, more lines than the
 * hardware follows. */
typedef struct {
    const uint8_t *start, *end; /* whole records, the last ending in a line end */
    int64_t rows, bound, first; /* rows stored, line ends in [start, end), first row */
    int64_t line0;              /* the file's line at start */
    int plain;                  /* no quote byte in [start, end) */
    double **vals;              /* column j's cells in the tile */
    uint8_t **miss;
    int32_t **codes;
    int64_t tile_rows, tile_cap;
    void *tile;
    int64_t *lines;             /* each row's line, in the parser's lines from `first` */
    csv_stats *st;
    csv_dict *dicts;
    int32_t **maps;             /* local code -> global code, per text column */
    int64_t *maps_cap;
    uint8_t *scratch;
    size_t scratch_cap;
    int64_t nl;                 /* line ends consumed */
    int status;
    const uint8_t *err_at;      /* the record (ragged) or the byte (UTF-8) */
} csv_chunk;

struct nc_csv {
    int64_t ncols;
    int *kinds;
    csv_format *fmt;
    uint8_t *fast;              /* a plain number column: cells may take fast_cell */
    uint8_t delim;
    int64_t skip_left;
    int threads;
    int isa;                    /* enum nc_isa, fixed when the parser is made */

    char **na;
    size_t *na_len;
    int n_na;
    uint64_t na_lens;           /* bit n: some marker is n bytes long (n < 64) */
    int na_long;                /* some marker is 64 bytes or longer */
    uint8_t na_first[32];       /* bitset of first bytes of markers */

    uint8_t *buf;
    size_t len, cap;
    size_t fed, expect;         /* bytes fed so far, and expected in all (0: unknown) */
    int bom_done;
    int64_t line;               /* 1-based line of buf[0] */

    int64_t rows, rows_cap;
    int64_t done;               /* rows handed over by earlier flushes */
    double **vals;
    uint8_t **miss;
    int32_t **codes;
    int64_t *lines;
    size_t *vals_bytes, *miss_bytes, *codes_bytes, lines_bytes; /* their allocations */
    csv_stats *st;
    csv_dict *dicts;

    csv_chunk *chunks;
    int nchunks;                /* chunks allocated: the most a block is split into */
    nc_csv_error err;
#ifdef __GLIBC__
    locale_t c_locale;
#endif
};

/* ---------------------------------------------------------------- small helpers */

static int grow(void **ptr, int64_t *cap, int64_t need, size_t elem)
{
    if (need <= *cap) return 0;
    int64_t n = *cap > 0 ? *cap : 16;
    while (n < need) n += n / 2 + 16;
    void *q = realloc(*ptr, (size_t)n * elem);
    if (!q) return -1;
    *ptr = q;
    *cap = n;
    return 0;
}

static int first_set(csv_first *f, int64_t row, const uint8_t *s, size_t n)
{
    char *t = malloc(n + 1);
    if (!t) return -1;
    memcpy(t, s, n);
    t[n] = 0;
    f->row = row;
    f->text = t;
    f->len = n;
    return 0;
}

static void first_clear(csv_first *f)
{
    free(f->text);
    f->text = NULL;
    f->len = 0;
    f->row = -1;
}

/* A line end or the delimiter: the first of them at or after q. Callers guarantee one
 * before the end of the allocation's padding. */
NC_INLINE const uint8_t *field_end(const uint8_t *q, uint8_t delim)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    const uint64_t pd = ones * delim, pn = ones * '\n';
    for (;;) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t a = w ^ pd, b = w ^ pn;
        /* The lowest flagged byte of (x - 1) & ~x & 0x80 is exactly the first zero byte
         * (a borrow only travels upwards from one), which is all this needs. */
        uint64_t m = ((a - ones) & ~a & high) | ((b - ones) & ~b & high);
        if (m) return q + (__builtin_ctzll(m) >> 3);
        q += 8;
    }
#else
    while (*q != delim && *q != '\n') q++;
    return q;
#endif
}

/* The first byte ch in [q, e), or NULL. The quote walk looks for many near bytes, so the
 * first 32 go a word at a time inline and only longer distances call memchr. Reads up to
 * 7 bytes past e, which callers keep inside the allocation. */
NC_INLINE const uint8_t *find_byte(const uint8_t *q, const uint8_t *e, uint8_t ch)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    const uint64_t pc = ones * ch;
    for (int i = 0; i < 4 && q < e; i++, q += 8) {
        uint64_t w;
        memcpy(&w, q, 8);
        uint64_t a = w ^ pc, m = (a - ones) & ~a & high;
        if (m) {
            const uint8_t *x = q + (__builtin_ctzll(m) >> 3);
            return x < e ? x : NULL;
        }
    }
    if (q >= e) return NULL;
#endif
    return memchr(q, ch, (size_t)(e - q));
}

/* Line ends in [s, e) where few are expected (an error's line): one memchr per line. */
static int64_t count_nl(const uint8_t *s, const uint8_t *e)
{
    int64_t n = 0;
    while (s < e && (s = memchr(s, '\n', (size_t)(e - s))) != NULL) {
        n++;
        s++;
    }
    return n;
}

#if NC_X86
/* Line ends in [s, e), 32 bytes a compare: matches are counted in byte lanes (each
 * compare adds 0 or 1 to a lane, emptied into 64-bit sums before 255 can overflow it). */
NC_TARGET_AVX2 static int64_t lines_avx2(const uint8_t *s, const uint8_t *e)
{
    const __m256i nl = _mm256_set1_epi8('\n'), zero = _mm256_setzero_si256();
    __m256i sums = zero;
    while (e - s >= 32) {
        __m256i lanes = zero;
        for (int i = 0; i < 255 && e - s >= 32; i++, s += 32) {
            __m256i v = _mm256_loadu_si256((const __m256i *)s);
            lanes = _mm256_sub_epi8(lanes, _mm256_cmpeq_epi8(v, nl));
        }
        sums = _mm256_add_epi64(sums, _mm256_sad_epu8(lanes, zero));
    }
    int64_t n = _mm256_extract_epi64(sums, 0) + _mm256_extract_epi64(sums, 1) +
                _mm256_extract_epi64(sums, 2) + _mm256_extract_epi64(sums, 3);
    while (s < e) n += *s++ == '\n';
    return n;
}

/* The end of the leading run of ASCII 32-byte blocks of [s, e): where a byte >= 0x80 may
 * be, or within 32 bytes of e. */
NC_TARGET_AVX2 static const uint8_t *ascii_run_avx2(const uint8_t *s, const uint8_t *e)
{
    while (e - s >= 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)s);
        __m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(s + 64));
        __m256i d = _mm256_loadu_si256((const __m256i *)(s + 96));
        if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(a, b),
                                                 _mm256_or_si256(c, d))))
            break;
        s += 128;
    }
    while (e - s >= 32 && !_mm256_movemask_epi8(_mm256_loadu_si256((const __m256i *)s)))
        s += 32;
    return s;
}
#endif

/* Line ends in [s, e), for sizing a chunk's rows: a word at a time without AVX2. */
static int64_t count_lines(int isa, const uint8_t *s, const uint8_t *e)
{
#if NC_X86
    if (isa >= NC_ISA_AVX2) return lines_avx2(s, e);
#else
    (void)isa;
#endif
    int64_t n = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full, high = 0x8080808080808080ull;
    const uint64_t ones = 0x0101010101010101ull, pn = ones * '\n';
    while (e - s >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        uint64_t x = w ^ pn;
        /* exactly the zero bytes of x get their high bit, as 1 per lane once shifted */
        uint64_t z = ~(((x & low7) + low7) | x) & high;
        n += (int64_t)(((z >> 7) * ones) >> 56);
        s += 8;
    }
#endif
    while (s < e) n += *s++ == '\n';
    return n;
}

/* ---------------------------------------------------------------- UTF-8 */

/* Length of the valid sequence starting at s (< e), or 0 if it is not one. */
static int utf8_seq(const uint8_t *s, const uint8_t *e)
{
    uint8_t b = s[0];
    if (b < 0x80) return 1;
    int n;
    uint8_t lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) n = 2;
    else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        if (b == 0xE0) lo = 0xA0;      /* overlong */
        if (b == 0xED) hi = 0x9F;      /* surrogates */
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        if (b == 0xF0) lo = 0x90;      /* overlong */
        if (b == 0xF4) hi = 0x8F;      /* beyond U+10FFFF */
    } else return 0;
    if (e - s < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (int i = 2; i < n; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* The first byte in [s, e) that starts no valid UTF-8 sequence (where Python's decoder
 * reports the error), or NULL; a sequence starting before e may run on to `limit`, and
 * *stop is where checking stopped (at or after e when nothing was bad). Runs of ASCII go
 * eight bytes at a time. */
static const uint8_t *utf8_check(const uint8_t *s, const uint8_t *e, const uint8_t *limit,
                                 const uint8_t **stop)
{
    while (s < e) {
        if (limit - s >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (!(w & 0x8080808080808080ull)) {
                s += 8;
                continue;
            }
        }
        if (*s < 0x80) {
            s++;
            continue;
        }
        int n = utf8_seq(s, limit);
        if (!n) {
            *stop = s;
            return s;
        }
        s += n;
    }
    *stop = s;
    return NULL;
}

static const uint8_t *utf8_first_bad(const uint8_t *s, const uint8_t *e)
{
    const uint8_t *stop;
    return utf8_check(s, e, e, &stop);
}

/* Where the vector ASCII scan of [s, e) stops (s itself without one). */
NC_INLINE const uint8_t *ascii_run(const uint8_t *s, const uint8_t *e)
{
#if NC_X86
    return ascii_run_avx2(s, e);
#else
    (void)e;
    return s;
#endif
}

/* Code point of the valid sequence at s, or -1. */
static int32_t utf8_decode(const uint8_t *s, const uint8_t *e, int *len)
{
    int n = utf8_seq(s, e);
    *len = n;
    if (n == 0) return -1;
    if (n == 1) return s[0];
    int32_t c = s[0] & (0x7F >> n);
    for (int i = 1; i < n; i++) c = (c << 6) | (s[i] & 0x3F);
    return c;
}

/* Python's str.isspace(), which str.strip() removes. */
static int is_space_cp(int32_t c)
{
    if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

NC_INLINE int is_space_ascii(uint8_t b)
{
    return (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x20);
}

/* str.strip() on [*ps, *pe). */
NC_INLINE void strip(const uint8_t **ps, const uint8_t **pe)
{
    const uint8_t *s = *ps, *e = *pe;
    if (s < e && s[0] > 0x20 && s[0] < 0x80 && e[-1] > 0x20 && e[-1] < 0x80) return;
    while (s < e) {
        if (*s < 0x80) {
            if (!is_space_ascii(*s)) break;
            s++;
        } else {
            int n;
            int32_t c = utf8_decode(s, e, &n);
            if (c < 0 || !is_space_cp(c)) break;
            s += n;
        }
    }
    while (e > s) {
        uint8_t b = e[-1];
        if (b < 0x80) {
            if (!is_space_ascii(b)) break;
            e--;
        } else {
            const uint8_t *t = e - 1;
            while (t > s && (*t & 0xC0) == 0x80 && e - t < 4) t--;
            int n;
            int32_t c = utf8_decode(t, e, &n);
            if (c < 0 || t + n != e || !is_space_cp(c)) break;
            e = t;
        }
    }
    *ps = s;
    *pe = e;
}

/* ---------------------------------------------------------------- numbers */

static const double POW10[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const uint64_t IPOW10[16] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull};

#define TWO53 9007199254740992ull

NC_INLINE int lower_is(const uint8_t *s, const char *word, int n)
{
    for (int i = 0; i < n; i++)
        if ((s[i] | 0x20) != (uint8_t)word[i]) return 0;
    return 1;
}

/* The correctly rounded value of an already checked decimal string, for what the exact
 * fast paths cannot do (more than 19 digits, or a far exponent). */
static double slow_decimal(const nc_csv *p, const uint8_t *s, size_t n)
{
    char stack[128];
    char *t = n < sizeof stack ? stack : malloc(n + 1);
    if (!t) return NAN;
    memcpy(t, s, n);
    t[n] = 0;
#ifdef __GLIBC__
    double v = strtod_l(t, NULL, p->c_locale);
#else
    (void)p;
    double v = strtod(t, NULL);
#endif
    if (t != stack) free(t);
    return v;
}

/* A cell as Python's float() reads it, refusing '_' and non-ASCII digits: sign, digits
 * with an optional point, optional exponent, or inf / infinity / nan in any case. */
static int parse_number(const nc_csv *p, const uint8_t *s, size_t n, double *out)
{
    const uint8_t *q = s, *e = s + n;
    int neg = 0;
    if (q < e && (*q == '+' || *q == '-')) {
        neg = *q == '-';
        q++;
    }
    if (q < e && (*q | 0x20) >= 'a' && (*q | 0x20) <= 'z') {
        size_t k = (size_t)(e - q);
        double v;
        if ((k == 3 && lower_is(q, "inf", 3)) || (k == 8 && lower_is(q, "infinity", 8)))
            v = INFINITY;
        else if (k == 3 && lower_is(q, "nan", 3))
            v = NAN;
        else
            return CELL_BAD;
        *out = neg ? -v : v;
        return CELL_NONFINITE;
    }
    const uint8_t *digits = q;
    /* All digits go into m; more than 19 of them may wrap it, and are then counted
     * again without leading zeros to see whether m is still exact. */
    uint64_t m = 0;
    while (q < e && (unsigned)(*q - '0') < 10) m = m * 10 + (unsigned)(*q++ - '0');
    int64_t nd = q - digits, exp10 = 0;
    if (q < e && *q == '.') {
        const uint8_t *f = ++q;
        while (q < e && (unsigned)(*q - '0') < 10) m = m * 10 + (unsigned)(*q++ - '0');
        exp10 = -(q - f);
        nd += q - f;
    }
    if (nd == 0) return CELL_BAD;
    const uint8_t *mant_end = q;
    if (q < e && (*q | 0x20) == 'e') {
        q++;
        int eneg = 0;
        if (q < e && (*q == '+' || *q == '-')) {
            eneg = *q == '-';
            q++;
        }
        if (q == e || (unsigned)(*q - '0') >= 10) return CELL_BAD;
        int64_t x = 0;
        while (q < e && (unsigned)(*q - '0') < 10) {
            if (x < 100000000) x = x * 10 + (*q - '0');
            q++;
        }
        exp10 += eneg ? -x : x;
    }
    if (q != e) return CELL_BAD;
    int exact = 1;
    if (nd > 19) {
        const uint8_t *z = digits;
        while (z < mant_end && (*z == '0' || *z == '.')) z++;
        int64_t sig = mant_end - z - (memchr(z, '.', (size_t)(mant_end - z)) != NULL);
        exact = sig <= 19;
        if (sig == 0) m = 0;
    }
    double v;
    if (exact && m == 0) {
        v = 0.0;
    } else if (exact && m < TWO53 && exp10 >= -22 && exp10 <= 22) {
        /* Clinger: m and 10^|e| are exact doubles, so one IEEE operation rounds once. */
        v = exp10 >= 0 ? (double)m * POW10[exp10] : (double)m / POW10[-exp10];
    } else if (exact && exp10 > 22 && exp10 <= 22 + 15 &&
               m <= (TWO53 - 1) / IPOW10[exp10 - 22]) {
        /* Move the excess power into the mantissa while it stays exact. */
        v = (double)(m * IPOW10[exp10 - 22]) * POW10[22];
    } else {
        v = slow_decimal(p, digits, (size_t)(e - digits));
    }
    *out = neg ? -v : v;
    return isfinite(v) ? CELL_OK : CELL_NONFINITE;
}

/* -v for neg, else v (v >= 0), by setting the sign bit: a branch on the sign would
 * mispredict on about every other cell of data with mixed signs. */
NC_INLINE double with_sign(double v, int neg)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    b |= (uint64_t)(neg != 0) << 63;
    memcpy(&v, &b, sizeof v);
    return v;
}

/* parse_number for the common shape, inlined where cells are stored: sign, at most 19
 * digits with an optional point, no exponent, read by one exact division. */
NC_INLINE int number_fast(const nc_csv *p, const uint8_t *s, size_t n, double *out)
{
    const uint8_t *q = s, *e = s + n;
    int neg = *q == '-';
    q += (*q == '-') | (*q == '+');
    const uint8_t *d0 = q;
    uint64_t m = 0;
    while (q < e && (unsigned)(*q - '0') < 10) m = m * 10 + (unsigned)(*q++ - '0');
    int64_t nd = q - d0, fr = 0;
    if (q < e && *q == '.') {
        const uint8_t *f = ++q;
        while (q < e && (unsigned)(*q - '0') < 10) m = m * 10 + (unsigned)(*q++ - '0');
        fr = q - f;
        nd += fr;
    }
    if (q != e || nd == 0 || nd > 19 || m >= TWO53 || fr > 22) return parse_number(p, s, n, out);
    *out = with_sign((double)m / POW10[fr], neg);
    return CELL_OK;
}

NC_INLINE int starts(const uint8_t *q, const uint8_t *e, const uint8_t *w, int n)
{
    return n > 0 && e - q >= n && memcmp(q, w, (size_t)n) == 0;
}

/* A cell in a column's number format: [sign] [currency [sign]] number [currency] [%],
 * spaces allowed next to the currency and before '%'. The number has the column's
 * decimal mark, and its whole part is either plain digits or a group of 1-3 digits
 * followed by groups of exactly 3 after each separator. It is rewritten in float()'s
 * syntax and read by parse_number. */
static int parse_formatted(const nc_csv *p, const csv_format *f, const uint8_t *s, size_t n,
                           double *out)
{
    const uint8_t *q = s, *e = s + n;
    int neg = 0, signed_ = 0, cur = 0;
    if (q < e && (*q == '+' || *q == '-')) {
        neg = *q == '-';
        signed_ = 1;
        q++;
    }
    if (starts(q, e, f->cur, f->cur_len)) {
        q += f->cur_len;
        cur = 1;
        while (q < e && *q == ' ') q++;
        if (!signed_ && q < e && (*q == '+' || *q == '-')) {
            neg = *q == '-';
            q++;
        }
    }
    if (f->percent && e > q && e[-1] == '%') {
        e--;
        while (e > q && e[-1] == ' ') e--;
    }
    if (!cur && f->cur_len && e - q >= f->cur_len &&
        memcmp(e - f->cur_len, f->cur, (size_t)f->cur_len) == 0) {
        e -= f->cur_len;
        while (e > q && e[-1] == ' ') e--;
    }
    if (q == e) return CELL_BAD;
    if ((*q | 0x20) >= 'a' && (*q | 0x20) <= 'z') {
        int r = parse_number(p, q, (size_t)(e - q), out);
        if (r == CELL_NONFINITE && neg) *out = -*out;
        return r;
    }
    char stack[128];
    size_t cap = (size_t)(e - q) + 2;
    char *t = cap <= sizeof stack ? stack : malloc(cap);
    if (!t) return CELL_BAD;
    size_t k = 0;
    int r = CELL_BAD;
    /* whole part */
    const uint8_t *g = q;
    while (q < e && (unsigned)(*q - '0') < 10) t[k++] = (char)*q++;
    int64_t first = q - g;
    if (f->thou_len && first >= 1 && first <= 3 && starts(q, e, f->thou, f->thou_len)) {
        while (starts(q, e, f->thou, f->thou_len)) {
            q += f->thou_len;
            int i = 0;
            while (i < 3 && q < e && (unsigned)(*q - '0') < 10) {
                t[k++] = (char)*q++;
                i++;
            }
            if (i != 3 || (q < e && (unsigned)(*q - '0') < 10)) goto done;
        }
    }
    if (starts(q, e, f->dec, f->dec_len)) {
        q += f->dec_len;
        t[k++] = '.';
        while (q < e && (unsigned)(*q - '0') < 10) t[k++] = (char)*q++;
    }
    if (q < e && (*q | 0x20) == 'e') {
        t[k++] = (char)*q++;
        if (q < e && (*q == '+' || *q == '-')) t[k++] = (char)*q++;
        while (q < e && (unsigned)(*q - '0') < 10) t[k++] = (char)*q++;
    }
    if (q != e) goto done;
    r = parse_number(p, (const uint8_t *)t, k, out);
    if (r != CELL_BAD && neg) *out = -*out;
done:
    if (t != stack) free(t);
    return r;
}

/* ---------------------------------------------------------------- dates */

static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    /* Count from 0000-03-01 in 400-year eras so the leap day ends each year. */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

NC_INLINE int two_digits(const uint8_t *s, int *v)
{
    if ((unsigned)(s[0] - '0') >= 10 || (unsigned)(s[1] - '0') >= 10) return 0;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return 1;
}

/* YYYY-MM-DD, optionally T or one space then HH:MM[:SS[.fraction]], optionally Z,
 * +HH:MM, -HH:MM or +HHMM. Value: days since 1970-01-01 UTC plus the day's fraction,
 * computed as days + (seconds + fraction) / 86400. */
static int parse_date(const nc_csv *p, const uint8_t *s, size_t n, double *out, int *has_time)
{
    int y1, y2, mo, d;
    if (n < 10 || s[4] != '-' || s[7] != '-' || !two_digits(s, &y1) || !two_digits(s + 2, &y2) ||
        !two_digits(s + 5, &mo) || !two_digits(s + 8, &d))
        return CELL_BAD;
    int y = y1 * 100 + y2;
    static const int DIM[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > DIM[mo - 1] + (mo == 2 && leap))
        return CELL_BAD;
    int64_t days = days_from_civil(y, mo, d);
    if (n == 10) {
        *out = (double)days;
        return CELL_OK;
    }
    int h, mi, sec = 0;
    if ((s[10] != 'T' && s[10] != ' ') || n < 16 || s[13] != ':' || !two_digits(s + 11, &h) ||
        !two_digits(s + 14, &mi) || h > 23 || mi > 59)
        return CELL_BAD;
    size_t q = 16;
    double frac = 0.0;
    if (q < n && s[q] == ':') {
        if (n < q + 3 || !two_digits(s + q + 1, &sec) || sec > 59) return CELL_BAD;
        q += 3;
        if (q < n && s[q] == '.') {
            size_t f0 = q;
            q++;
            while (q < n && (unsigned)(s[q] - '0') < 10) q++;
            if (q == f0 + 1) return CELL_BAD;
            if (parse_number(p, s + f0, q - f0, &frac) != CELL_OK) return CELL_BAD;
        }
    }
    int64_t off = 0;
    if (q < n && s[q] == 'Z') {
        q++;
    } else if (q < n && (s[q] == '+' || s[q] == '-')) {
        int oh, om, sign = s[q] == '-' ? -1 : 1;
        if (n < q + 5 || !two_digits(s + q + 1, &oh)) return CELL_BAD;
        if (s[q + 3] == ':') {
            if (n < q + 6 || !two_digits(s + q + 4, &om)) return CELL_BAD;
            q += 6;
        } else {
            if (!two_digits(s + q + 3, &om)) return CELL_BAD;
            q += 5;
        }
        if (oh > 23 || om > 59) return CELL_BAD;
        off = sign * (oh * 60 + om);
    }
    if (q != n) return CELL_BAD;
    int64_t secs = (int64_t)h * 3600 + mi * 60 + sec - off * 60;
    *out = (double)days + ((double)secs + frac) / 86400.0;
    *has_time = 1;
    return CELL_OK;
}

/* ---------------------------------------------------------------- text dictionary */

static uint32_t hash_bytes(const uint8_t *s, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    h *= 0xFF51AFD7ED558CCDull;
    return (uint32_t)(h >> 32);
}

static void dict_clear(csv_dict *d)
{
    if (d->slots && d->n) memset(d->slots, 0, (size_t)d->cap * sizeof *d->slots);
    d->n = 0;
    d->used = 0;
}

static void dict_free(csv_dict *d)
{
    free(d->slots);
    free(d->ents);
    free(d->arena);
    memset(d, 0, sizeof *d);
}

/* The index of string s in d, adding it when new (*added = 1); -1 out of memory. */
static int64_t dict_add(csv_dict *d, const uint8_t *s, size_t n, uint32_t h, int *added)
{
    *added = 0;
    if (d->cap == 0 || 2 * (d->n + 1) > d->cap) {
        int64_t cap = d->cap ? 2 * d->cap : 64;
        uint32_t *slots = calloc((size_t)cap, sizeof *slots);
        if (!slots) return -1;
        for (int64_t i = 0; i < d->n; i++) {
            int64_t k = d->ents[i].hash & (cap - 1);
            while (slots[k]) k = (k + 1) & (cap - 1);
            slots[k] = (uint32_t)(i + 1);
        }
        free(d->slots);
        d->slots = slots;
        d->cap = cap;
    }
    int64_t k = h & (d->cap - 1);
    for (;;) {
        uint32_t x = d->slots[k];
        if (!x) break;
        const csv_entry *en = &d->ents[x - 1];
        if (en->hash == h && en->len == (int64_t)n && memcmp(d->arena + en->off, s, n) == 0)
            return x - 1;
        k = (k + 1) & (d->cap - 1);
    }
    if (d->n >= INT32_MAX - 1 || grow((void **)&d->ents, &d->ents_cap, d->n + 1, sizeof *d->ents) ||
        grow((void **)&d->arena, &d->arena_cap, d->used + (int64_t)n + 1, 1))
        return -1;
    csv_entry *en = &d->ents[d->n];
    en->off = d->used;
    en->len = (int64_t)n;
    en->hash = h;
    en->is_number = 0;
    memcpy(d->arena + d->used, s, n);
    d->used += (int64_t)n;
    d->slots[k] = (uint32_t)(d->n + 1);
    *added = 1;
    return d->n++;
}

/* ---------------------------------------------------------------- cells and records */

NC_INLINE int is_na(const nc_csv *p, const uint8_t *s, size_t n)
{
    if (n < 64 ? !((p->na_lens >> n) & 1) : !p->na_long) return 0;
    if (!((p->na_first[s[0] >> 3] >> (s[0] & 7)) & 1)) return 0;
    for (int i = 0; i < p->n_na; i++)
        if (p->na_len[i] == n && memcmp(p->na[i], s, n) == 0) return 1;
    return 0;
}

/* Store the stripped cell [s, s+n) of column j of the chunk's row c->rows in its tile
 * at `slot`. */
NC_INLINE void store_cell(const nc_csv *p, csv_chunk *c, int64_t j, const uint8_t *s, size_t n,
                          int64_t slot)
{
    int kind = p->kinds[j];
    csv_stats *st = &c->st[j];
    if (n == 0 || (p->n_na && is_na(p, s, n))) {
        if (kind == NC_CSV_TEXT) {
            c->codes[j][slot] = -1;
        } else {
            c->vals[j][slot] = NAN;
            c->miss[j][slot] = 1;
        }
        return;
    }
    st->present++;
    if (kind == NC_CSV_TEXT) {
        csv_dict *d = &c->dicts[j];
        int added;
        int64_t code = dict_add(d, s, n, hash_bytes(s, n), &added);
        if (code < 0) {
            c->status = NC_CSV_NOMEM;
            return;
        }
        if (added) {
            double v;
            d->ents[code].is_number = parse_number(p, s, n, &v) != CELL_BAD;
            if (!d->ents[code].is_number && !st->first_text.text &&
                first_set(&st->first_text, c->rows, s, n))
                c->status = NC_CSV_NOMEM;
        }
        st->numbers += d->ents[code].is_number;
        c->codes[j][slot] = (int32_t)code;
        return;
    }
    double v = 0.0;
    int r;
    if (kind == NC_CSV_NUMBER)
        r = p->fmt[j].plain ? number_fast(p, s, n, &v) : parse_formatted(p, &p->fmt[j], s, n, &v);
    else
        r = parse_date(p, s, n, &v, &st->has_time);
    c->miss[j][slot] = 0;
    if (r == CELL_OK) {
        c->vals[j][slot] = v;
        /* Once set, the flag is not tested again: the test would wait for the value. */
        if (!st->not_integral && !(fabs(v) < (double)TWO53 && (double)(int64_t)v == v))
            st->not_integral = 1;
    } else if (r == CELL_NONFINITE) {
        c->vals[j][slot] = v;
        if (!st->nonfinite++ && first_set(&st->first_nonfinite, c->rows, s, n))
            c->status = NC_CSV_NOMEM;
    } else {
        c->vals[j][slot] = NAN;
        if (!st->bad++ && first_set(&st->first_bad, c->rows, s, n)) c->status = NC_CSV_NOMEM;
    }
}

/* A quoted field from just after its opening quote: unquoted into the chunk's scratch,
 * text after the closing quote appended. Returns the delimiter or line end that ends it. */
static const uint8_t *unquote(const nc_csv *p, csv_chunk *c, const uint8_t *q,
                              const uint8_t **ps, const uint8_t **pe)
{
    size_t k = 0;
    size_t need = (size_t)(c->end - q);
    if (need > c->scratch_cap) {
        uint8_t *t = realloc(c->scratch, need);
        if (!t) {
            c->status = NC_CSV_NOMEM;
            *ps = *pe = q;
            return field_end(q, p->delim);
        }
        c->scratch = t;
        c->scratch_cap = need;
    }
    uint8_t *out = c->scratch;
    for (;;) {
        const uint8_t *qt = memchr(q, '"', (size_t)(c->end - q));
        if (!qt) qt = c->end - 1; /* unreachable: the scan saw every quote closed */
        memcpy(out + k, q, (size_t)(qt - q));
        k += (size_t)(qt - q);
        c->nl += count_nl(q, qt);
        q = qt + 1;
        if (*qt != '"') {
            q = qt;
            break;
        }
        if (*q == '"') {
            out[k++] = '"';
            q++;
            continue;
        }
        break;
    }
    if (*q != p->delim && *q != '\n') {
        const uint8_t *t = field_end(q, p->delim);
        memcpy(out + k, q, (size_t)(t - q));
        k += (size_t)(t - q);
        q = t;
    }
    *ps = out;
    *pe = out + k;
    return q;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CSV_SWAR 1
/* 0x80 in each byte of w that is an ASCII digit. The bytes are cut to seven bits first,
 * so adding to them carries into no neighbour; a byte with its high bit set is no digit. */
NC_INLINE uint64_t digit_bytes(uint64_t w)
{
    const uint64_t x = w & 0x7F7F7F7F7F7F7F7Full;
    const uint64_t from0 = x + 0x5050505050505050ull;  /* high bit: x >= '0' */
    const uint64_t past9 = x + 0x4646464646464646ull;  /* high bit: x > '9' */
    return from0 & ~past9 & ~w & 0x8080808080808080ull;
}

/* The number written by the first n (1..8) bytes of w, all digits: they are moved to the
 * top so the leading places are zeros, then neighbours are combined in pairs, pairs of
 * pairs and the two halves (no lane overflows: 99, 9999). */
NC_INLINE uint64_t swar_digits(uint64_t w, int n)
{
    w = (w & 0x0F0F0F0F0F0F0F0Full) << (8 * (8 - n));
    w = (w * 10 + (w >> 8)) & 0x00FF00FF00FF00FFull;
    w = (w * 100 + (w >> 16)) & 0x0000FFFF0000FFFFull;
    return (w & 0xFFFFFFFFull) * 10000 + (w >> 32);
}
#else
#define CSV_SWAR 0
#endif

/* A fast number cell waits in the tile as its digits m, point place fr and sign, packed
 * in 64 bits (m < 2^53, fr <= 22), its missing byte CSV_PENDING: the division m / 10^fr
 * is done when the tile is copied out, where the divisions of many cells overlap instead
 * of each standing in the parse's way. */
#define CSV_PENDING 2

NC_INLINE void pending_store(csv_chunk *c, int64_t j, int64_t slot, uint64_t m, int64_t fr,
                             int neg)
{
    uint64_t x = m | (uint64_t)fr << 53 | (uint64_t)(neg != 0) << 63;
    memcpy(&c->vals[j][slot], &x, sizeof x);
    c->miss[j][slot] = CSV_PENDING;
    csv_stats *st = &c->st[j];
    st->present++;
    /* Whole exactly when 10^fr divides m (m < 2^53 < 10^16): otherwise m / 10^fr is at
     * least 10^-fr from a whole number, far more than its rounding error. Once set, not
     * tested again. */
    if (!st->not_integral && fr && m && (fr > 15 || m % IPOW10[fr])) st->not_integral = 1;
}

/* The value of a packed pending cell: one correctly rounded division (Clinger). */
NC_INLINE double pending_value(uint64_t x)
{
    double v = (double)(int64_t)(x & (TWO53 - 1)) / POW10[(x >> 53) & 31];
    return with_sign(v, (int)(x >> 63));
}

#if NC_X86
/* A tile column's cells out to v and m, as tile_flush does, four pending cells a vector:
 * digits below 2^52 become a double exactly by filling in the mantissa of 2^52 and
 * subtracting it, and vdivpd rounds each lane as divsd would. Groups with another cell
 * or larger digits go one by one. */
NC_TARGET_AVX2 static void pending_out_avx2(double *v, uint8_t *m, const double *tv,
                                            const uint8_t *tm, int64_t n)
{
    const __m256i digits = _mm256_set1_epi64x((long long)((1ull << 52) - 1));
    const __m256i big = _mm256_set1_epi64x((long long)(1ull << 52));
    const __m256i sign = _mm256_set1_epi64x((long long)(1ull << 63));
    const __m256i place = _mm256_set1_epi64x(31);
    const __m256i two52 = _mm256_set1_epi64x(0x4330000000000000ll);
    const __m256d two52d = _mm256_set1_pd(4503599627370496.0);
    int64_t r = 0;
    for (; r + 4 <= n; r += 4) {
        uint32_t flags;
        memcpy(&flags, tm + r, sizeof flags);
        __m256i x = _mm256_loadu_si256((const __m256i *)(tv + r));
        if (flags != 0x02020202u || !_mm256_testz_si256(x, big)) {
            for (int k = 0; k < 4; k++) {
                uint64_t y;
                memcpy(&y, &tv[r + k], sizeof y);
                v[r + k] = tm[r + k] == CSV_PENDING ? pending_value(y) : tv[r + k];
                m[r + k] = tm[r + k] & 1;
            }
            continue;
        }
        __m256d d = _mm256_sub_pd(
            _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(x, digits), two52)), two52d);
        __m256i k = _mm256_and_si256(_mm256_srli_epi64(x, 53), place);
        __m256d q = _mm256_div_pd(d, _mm256_i64gather_pd(POW10, k, 8));
        q = _mm256_or_pd(q, _mm256_castsi256_pd(_mm256_and_si256(x, sign)));
        _mm256_storeu_pd(v + r, q);
        memset(m + r, 0, 4);
    }
    for (; r < n; r++) {
        uint64_t y;
        memcpy(&y, &tv[r], sizeof y);
        v[r] = tm[r] == CSV_PENDING ? pending_value(y) : tv[r];
        m[r] = tm[r] & 1;
    }
}
#endif

/* A plain number cell read straight from the record: sign, at most 19 digits with an
 * optional point, then the delimiter or line end. Returns where the cell ends when it was
 * stored, NULL for anything else (spaces, exponent, a missing marker, ...), which then
 * takes the general path. */
NC_INLINE const uint8_t *fast_cell(const nc_csv *p, csv_chunk *c, int64_t j, const uint8_t *q,
                                   int64_t slot)
{
    const uint8_t *t = q;
    int neg = *t == '-';
    t += (*t == '-') | (*t == '+');
    uint64_t m = 0;
    int64_t nd, fr = 0;
#if CSV_SWAR
    /* Up to 7 digits before and 7 after the point, a word each (the record ends in a line
     * end with padding after it, so the loads stay inside the buffer): at most 14 digits,
     * so m < 2^53 and m / 10^fr is one correctly rounded division. */
    uint64_t w, f;
    memcpy(&w, t, 8);
    uint64_t other = ~digit_bytes(w) & 0x8080808080808080ull;
    if (!other) goto scalar;
    nd = __builtin_ctzll(other) >> 3;
    if (nd) m = swar_digits(w, (int)nd);
    t += nd;
    if (*t == '.') {
        memcpy(&f, t + 1, 8);
        other = ~digit_bytes(f) & 0x8080808080808080ull;
        if (!other) goto scalar;
        fr = __builtin_ctzll(other) >> 3;
        if (fr) m = m * IPOW10[fr] + swar_digits(f, (int)fr);
        t += 1 + fr;
        nd += fr;
    }
    goto check;
scalar:
    t = q + ((*q == '-') | (*q == '+'));
    m = 0;
    fr = 0;
#endif
    {
        const uint8_t *d0 = t;
        /* no bounds: the record ends in a line end */
        while ((unsigned)(*t - '0') < 10) m = m * 10 + (unsigned)(*t++ - '0');
        nd = t - d0;
        if (*t == '.') {
            const uint8_t *f0 = ++t;
            while ((unsigned)(*t - '0') < 10) m = m * 10 + (unsigned)(*t++ - '0');
            fr = t - f0;
            nd += fr;
        }
    }
#if CSV_SWAR
check:;
#endif
    const uint8_t *end = t + (*t == '\r' && t[1] == '\n'); /* CR of a CRLF: stripped */
    if ((*end != p->delim && *end != '\n') || nd == 0 || nd > 19 || m >= TWO53 || fr > 22 ||
        (p->n_na && is_na(p, q, (size_t)(t - q))))
        return NULL;
    pending_store(c, j, slot, m, fr, neg);
    return end;
}

typedef struct {
    int64_t fields;
    int nonempty, multiline, last_empty;
} csv_rec;

/* One record from its start q (inside the chunk, which ends in a line end): its cells
 * stored in the tile's row c->tile_rows (REC_STORE), only looked at (REC_SKIP), or described for an
 * error message (REC_INSPECT). Returns the start of the next record. */
NC_INLINE const uint8_t *parse_record(const nc_csv *p, csv_chunk *c, const uint8_t *q, int mode,
                                      csv_rec *r)
{
    const uint8_t delim = p->delim;
    const int64_t ncols = p->ncols, slot = c->tile_rows;
    int64_t j = 0;
    int nonempty = 0, multiline = 0, last_empty = 0;
    for (;;) {
        while (*q == ' ') q++;
        if (mode == REC_STORE && j < ncols && p->fast[j]) {
            const uint8_t *t = fast_cell(p, c, j, q, slot);
            if (t) {
                q = t;
                nonempty = 1;
                goto next;
            }
        }
        const uint8_t *s, *e;
        if (*q == '"') {
            q = unquote(p, c, q + 1, &s, &e);
        } else {
            s = q;
            q = field_end(q, delim);
            e = q;
        }
        strip(&s, &e);
        nonempty |= e > s;
        if (mode == REC_STORE && j < ncols) store_cell(p, c, j, s, (size_t)(e - s), slot);
        if (mode == REC_INSPECT) {
            last_empty = e == s;
            multiline |= memchr(s, '\n', (size_t)(e - s)) != NULL ||
                         memchr(s, '\r', (size_t)(e - s)) != NULL;
        }
    next:
        j++;
        if (*q == '\n') {
            c->nl++;
            q++;
            break;
        }
        q++;
    }
    r->fields = j;
    r->nonempty = nonempty;
    r->multiline = multiline;
    r->last_empty = last_empty;
    return q;
}

/* ---------------------------------------------------------------- records without quotes */

/* The field ends of a chunk without quote bytes: a bit for each byte that is the
 * delimiter or a line end, 64 bytes at a time, taken lowest first. Finding the next field
 * is then a bit scan instead of a walk through the field, so the cells' parses do not wait
 * on one another. */
typedef struct {
    const uint8_t *base;        /* the window's first byte */
    uint64_t bits;              /* field ends in [base, base + 64) not yet taken */
    int isa;
    uint8_t delim;
} csv_ends;

#if NC_X86
NC_TARGET_AVX2 static uint64_t ends_avx2(const uint8_t *s, uint8_t delim)
{
    const __m256i d = _mm256_set1_epi8((char)delim), nl = _mm256_set1_epi8('\n');
    __m256i a = _mm256_loadu_si256((const __m256i *)s);
    __m256i b = _mm256_loadu_si256((const __m256i *)(s + 32));
    uint32_t lo = (uint32_t)_mm256_movemask_epi8(
        _mm256_or_si256(_mm256_cmpeq_epi8(a, d), _mm256_cmpeq_epi8(a, nl)));
    uint32_t hi = (uint32_t)_mm256_movemask_epi8(
        _mm256_or_si256(_mm256_cmpeq_epi8(b, d), _mm256_cmpeq_epi8(b, nl)));
    return lo | (uint64_t)hi << 32;
}
#endif

/* The end bits of the 64 bytes at s. */
NC_INLINE uint64_t ends_at(int isa, const uint8_t *s, uint8_t delim)
{
#if NC_X86
    if (isa >= NC_ISA_AVX2) return ends_avx2(s, delim);
#else
    (void)isa;
#endif
    uint64_t bits = 0;
#if CSV_SWAR
    const uint64_t low7 = 0x7F7F7F7F7F7F7F7Full, high = 0x8080808080808080ull;
    const uint64_t ones = 0x0101010101010101ull, pd = ones * delim, pn = ones * '\n';
    for (int i = 0; i < 8; i++) {
        uint64_t w;
        memcpy(&w, s + 8 * i, 8);
        uint64_t a = w ^ pd, b = w ^ pn;
        /* exactly the zero bytes of a or b keep a high bit, which the multiply gathers
         * into the top byte, lowest byte lowest */
        uint64_t z = (~(((a & low7) + low7) | a) | ~(((b & low7) + low7) | b)) & high;
        bits |= ((z * 0x0002040810204081ull) >> 56) << (8 * i);
    }
#else
    for (int i = 0; i < 64; i++) bits |= (uint64_t)(s[i] == delim || s[i] == '\n') << i;
#endif
    return bits;
}

/* The next field end. Windows read up to 63 bytes past the chunk's last line end, which
 * the buffer's padding (CSV_PAD) keeps inside the allocation; the ends found there are
 * never taken. */
NC_INLINE const uint8_t *next_end(csv_ends *it)
{
    while (!it->bits) {
        it->base += 64;
        it->bits = ends_at(it->isa, it->base, it->delim);
    }
    const uint8_t *e = it->base + __builtin_ctzll(it->bits);
    it->bits &= it->bits - 1;
    return e;
}

/* A plain number cell [s, e) stored when it is: sign, then at most 8 bytes of digits
 * and an optional point, or at most 7 digits, an optional point and at most 7 more;
 * nothing else but a CR before a line end. The same value as fast_cell; 0 for anything
 * else, which takes the general path. */
NC_INLINE int plain_cell(const nc_csv *p, csv_chunk *c, int64_t j, const uint8_t *s,
                         const uint8_t *e, int64_t slot)
{
#if CSV_SWAR
    const uint64_t high = 0x8080808080808080ull;
    e -= *e == '\n' && e > s && e[-1] == '\r';
    const uint8_t *t = s;
    int neg = *t == '-';
    t += (*t == '-') | (*t == '+');
    uint64_t w, f;
    memcpy(&w, t, 8);
    const int64_t len = e - t;
    if (len >= 1 && len <= 8) {
        /* One word holds it all: its only non-digit byte may be the point, which is
         * taken out so that one pass of swar_digits reads every digit. */
        uint64_t other = ~digit_bytes(w) & high & (~0ull >> (64 - 8 * len));
        int64_t nd = len, fr = 0;
        if (other) {
            int at = __builtin_ctzll(other) >> 3;
            if ((other & (other - 1)) || ((w >> (8 * at)) & 0xFF) != '.') return 0;
            uint64_t below = (1ull << (8 * at)) - 1;
            w = (w & below) | ((w >> 8) & ~below);
            nd = len - 1;
            fr = len - 1 - at;
        }
        if (nd == 0 || (p->n_na && is_na(p, s, (size_t)(e - s)))) return 0;
        pending_store(c, j, slot, swar_digits(w, (int)nd), fr, neg);
        return 1;
    }
    uint64_t other = ~digit_bytes(w) & high;
    if (!other) return 0;
    int64_t nd = __builtin_ctzll(other) >> 3, fr = 0;
    uint64_t m = nd ? swar_digits(w, (int)nd) : 0;
    t += nd;
    if (*t == '.') {
        memcpy(&f, t + 1, 8);
        other = ~digit_bytes(f) & high;
        if (!other) return 0;
        fr = __builtin_ctzll(other) >> 3;
        if (fr) m = m * IPOW10[fr] + swar_digits(f, (int)fr);
        t += 1 + fr;
        nd += fr;
    }
    if (t != e || nd == 0 || (p->n_na && is_na(p, s, (size_t)(e - s)))) return 0;
    pending_store(c, j, slot, m, fr, neg);
    return 1;
#else
    (void)p, (void)c, (void)j, (void)s, (void)e, (void)slot;
    return 0;
#endif
}

/* parse_record (REC_STORE) for a chunk without quote bytes, the field ends from `it`. */
NC_INLINE const uint8_t *plain_record(const nc_csv *p, csv_chunk *c, const uint8_t *q,
                                      csv_ends *it, csv_rec *r)
{
    const int64_t ncols = p->ncols, slot = c->tile_rows;
    int64_t j = 0;
    int nonempty = 0;
    for (;;) {
        const uint8_t *e = next_end(it);
        if (j < ncols && p->fast[j] && plain_cell(p, c, j, q, e, slot)) {
            nonempty = 1;
        } else {
            const uint8_t *s = q, *t = e;
            strip(&s, &t);
            nonempty |= t > s;
            if (j < ncols) store_cell(p, c, j, s, (size_t)(t - s), slot);
        }
        j++;
        q = e + 1;
        if (*e == '\n') break;
    }
    c->nl++;
    r->fields = j;
    r->nonempty = nonempty;
    r->multiline = r->last_empty = 0;
    return q;
}

/* ---------------------------------------------------------------- chunks */

static void stats_reset(csv_stats *st)
{
    first_clear(&st->first_bad);
    first_clear(&st->first_nonfinite);
    first_clear(&st->first_text);
    st->present = st->bad = st->nonfinite = st->numbers = 0;
    st->not_integral = st->has_time = 0;
}

static void chunk_reset(const nc_csv *p, csv_chunk *c)
{
    c->rows = 0;
    c->tile_rows = 0;
    c->nl = 0;
    c->status = NC_CSV_OK;
    c->err_at = NULL;
    for (int64_t j = 0; j < p->ncols; j++) {
        stats_reset(&c->st[j]);
        if (p->kinds[j] == NC_CSV_TEXT) dict_clear(&c->dicts[j]);
    }
}

/* The tile's rows copied to their place in the parser's columns, the tile emptied. */
static void tile_flush(const nc_csv *p, csv_chunk *c)
{
    const int64_t n = c->tile_rows, at = c->first + c->rows - n;
    for (int64_t j = 0; j < p->ncols && n; j++) {
        if (p->kinds[j] == NC_CSV_TEXT) {
            memcpy(p->codes[j] + at, c->codes[j], (size_t)n * sizeof(int32_t));
            continue;
        }
        const double *tv = c->vals[j];
        const uint8_t *tm = c->miss[j];
        double *v = p->vals[j] + at;
        uint8_t *m = p->miss[j] + at;
#if NC_X86
        if (p->isa >= NC_ISA_AVX2) {
            pending_out_avx2(v, m, tv, tm, n);
            continue;
        }
#endif
        for (int64_t r = 0; r < n; r++) {
            uint64_t x;
            memcpy(&x, &tv[r], sizeof x);
            v[r] = tm[r] == CSV_PENDING ? pending_value(x) : tv[r];
            m[r] = tm[r] & 1;
        }
    }
    c->tile_rows = 0;
}

/* Parse the chunk's records into the parser's columns; stop at the first error. */
static void parse_chunk(const nc_csv *p, csv_chunk *c)
{
    chunk_reset(p, c);
    /* UTF-8 is checked a window at a time just ahead of the parse, while those bytes are
     * in cache, rather than in a pass of its own over the chunk. */
    const uint8_t *bad = NULL, *checked = c->start;
    const uint8_t *q = c->start;
    csv_ends ends = {c->start, 0, p->isa, p->delim};
    if (c->plain) ends.bits = ends_at(p->isa, c->start, p->delim);
    /* No room check: every stored record ends in one of the chunk's c->bound line ends. */
    while (q < c->end) {
        const uint8_t *rec = q;
        c->lines[c->rows] = c->line0 + c->nl;
        csv_rec r;
        q = c->plain ? plain_record(p, c, q, &ends, &r) : parse_record(p, c, q, REC_STORE, &r);
        if (c->status) return;
        while (!bad && checked < q) {
            const uint8_t *to = (size_t)(c->end - checked) > CSV_UTF8_WINDOW
                                ? checked + CSV_UTF8_WINDOW : c->end;
            if (p->isa >= NC_ISA_AVX2) checked = ascii_run(checked, to);
            if (checked < to) bad = utf8_check(checked, to, c->end, &checked);
        }
        if (bad && bad < q) {
            c->status = NC_CSV_BADUTF8;
            c->err_at = bad;
            return;
        }
        if (!r.nonempty) continue;
        if (r.fields != p->ncols) {
            c->status = NC_CSV_RAGGED;
            c->err_at = rec;
            return;
        }
        c->rows++;
        if (++c->tile_rows == c->tile_cap) tile_flush(p, c);
    }
    tile_flush(p, c);
}

static void chunk_free(const nc_csv *p, csv_chunk *c)
{
    for (int64_t j = 0; j < p->ncols; j++) {
        if (c->maps) free(c->maps[j]);
        if (c->st) stats_reset(&c->st[j]);
        if (c->dicts) dict_free(&c->dicts[j]);
    }
    free(c->vals);
    free(c->miss);
    free(c->codes);
    free(c->maps);
    free(c->maps_cap);
    free(c->st);
    free(c->dicts);
    free(c->tile);
    free(c->scratch);
    memset(c, 0, sizeof *c);
}

static int chunk_init(const nc_csv *p, csv_chunk *c)
{
    memset(c, 0, sizeof *c);
    size_t n = (size_t)p->ncols;
    c->vals = calloc(n, sizeof *c->vals);
    c->miss = calloc(n, sizeof *c->miss);
    c->codes = calloc(n, sizeof *c->codes);
    c->maps = calloc(n, sizeof *c->maps);
    c->maps_cap = calloc(n, sizeof *c->maps_cap);
    c->st = calloc(n, sizeof *c->st);
    c->dicts = calloc(n, sizeof *c->dicts);
    /* The tile: about CSV_TILE_BYTES of numbers, at least 8 rows; the columns' cells
     * side by side, each column's doubles first, then its codes, then its missing flags. */
    int64_t rows = (int64_t)(CSV_TILE_BYTES / (n ? 9 * n : 1));
    c->tile_cap = rows < 8 ? 8 : rows;
    c->tile = malloc((size_t)c->tile_cap * (n ? n : 1) * (sizeof(double) + sizeof(int32_t) + 1));
    if ((n && (!c->vals || !c->miss || !c->codes || !c->maps || !c->maps_cap || !c->st ||
               !c->dicts)) || !c->tile)
        return -1;
    double *tv = c->tile;
    int32_t *tc = (int32_t *)(tv + c->tile_cap * (int64_t)n);
    uint8_t *tm = (uint8_t *)(tc + c->tile_cap * (int64_t)n);
    for (size_t j = 0; j < n; j++) {
        c->vals[j] = tv + (int64_t)j * c->tile_cap;
        c->codes[j] = tc + (int64_t)j * c->tile_cap;
        c->miss[j] = tm + (int64_t)j * c->tile_cap;
    }
    for (size_t j = 0; j < n; j++) {
        c->st[j].first_bad.row = c->st[j].first_nonfinite.row = c->st[j].first_text.row = -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- boundaries */

static const uint8_t *last_nl(const uint8_t *s, const uint8_t *e)
{
    while (e > s)
        if (*--e == '\n') return e;
    return NULL;
}

/* Line ends in b[a, z), a stretch outside quoted fields: each is a record boundary. Takes
 * the split targets it can, notes whether the stretch has one (for the last boundary). */
static void stretch_lines(const uint8_t *b, size_t a, size_t z, const size_t *targets,
                          size_t *splits, int nsplit, int *k, size_t *nl_from, size_t *nl_to)
{
    if (a >= z) return;
    while (*k < nsplit) {
        size_t from = targets[*k] > a + 1 ? targets[*k] - 1 : a;
        if (from >= z) break;
        const uint8_t *x = memchr(b + from, '\n', z - from);
        if (!x) break;
        splits[(*k)++] = (size_t)(x - b) + 1;
    }
    if (find_byte(b + a, b + z, '\n')) {
        *nl_from = a;
        *nl_to = z;
    }
}

/* Record boundaries in b[s, e) from a record start, following the quoting rules. Returns
 * the end of the last complete record (s if none), or of the first with `first` set;
 * *open is 1 when the data ends inside a quoted field. splits[k] becomes the first
 * boundary at or after targets[k] (at most that return value).
 *
 * It jumps from quote to quote: a quote opens a quoted field only at a field's start
 * (after spaces), which is where the byte before those spaces is the delimiter or a line
 * end; any other quote outside a quoted field is literal. Line ends outside quoted fields
 * are the boundaries. */
static size_t scan_records(const uint8_t *b, size_t s, size_t e, uint8_t delim, int first,
                           const size_t *targets, size_t *splits, int nsplit, int *open)
{
    size_t pos = s, nl_from = s, nl_to = s;
    int k = 0;
    *open = 0;
    for (;;) {
        const uint8_t *qt = find_byte(b + pos, b + e, '"');
        size_t z = qt ? (size_t)(qt - b) : e;
        if (first) {
            const uint8_t *x = pos < z ? memchr(b + pos, '\n', z - pos) : NULL;
            if (x) return (size_t)(x - b) + 1;
        } else {
            stretch_lines(b, pos, z, targets, splits, nsplit, &k, &nl_from, &nl_to);
        }
        if (!qt) break;
        const uint8_t *t = qt;
        while (t > b + s && t[-1] == ' ') t--;
        if (!(t == b + s || t[-1] == delim || t[-1] == '\n' || (delim == ' ' && t < qt))) {
            pos = z + 1; /* a literal quote */
            continue;
        }
        /* Inside a quoted field: its end is a quote not followed by another. */
        const uint8_t *r = qt + 1, *c;
        for (;;) {
            c = find_byte(r, b + e, '"');
            if (!c || c + 1 >= b + e || c[1] != '"') break;
            r = c + 2;
        }
        if (!c) {
            *open = 1;
            break;
        }
        if (c + 1 >= b + e) break; /* the next block decides: closing or doubled */
        pos = (size_t)(c - b) + 1;
    }
    const uint8_t *l = nl_to > nl_from ? last_nl(b + nl_from, b + nl_to) : NULL;
    size_t last = l ? (size_t)(l - b) + 1 : s;
    for (; k < nsplit; k++) splits[k] = last;
    for (int i = 0; i < nsplit; i++)
        if (splits[i] > last) splits[i] = last;
    return first ? s : last;
}

/* Line ends in [s, e), or -1 as soon as a quote byte is seen. */
static int64_t lines_unquoted(int isa, const uint8_t *s, const uint8_t *e)
{
    int64_t n = 0;
    while (s < e) {
        const uint8_t *z = e - s > CSV_SCAN_STEP ? s + CSV_SCAN_STEP : e;
        if (memchr(s, '"', (size_t)(z - s))) return -1;
        n += count_lines(isa, s, z);
        s = z;
    }
    return n;
}

/* The line ends of b[s, e) in nparts parts split at targets (nls[i] for the part ending at
 * targets[i], the last at e), counted in parallel; 1 and no counts when it has a quote. */
typedef struct {
    const nc_csv *p;
    const uint8_t *b;
    size_t s, e;
    const size_t *targets;
    int nparts;
    int64_t *nls;
} part_lines_job;

static void part_lines_unit(void *arg, int64_t i, int slot)
{
    const part_lines_job *j = arg;
    size_t a = i ? j->targets[i - 1] : j->s, z = i < j->nparts - 1 ? j->targets[i] : j->e;
    (void)slot;
    j->nls[i] = lines_unquoted(j->p->isa, j->b + a, j->b + z);
}

static int part_lines(const nc_csv *p, const uint8_t *b, size_t s, size_t e,
                      const size_t *targets, int nparts, int64_t *nls)
{
    part_lines_job job = {p, b, s, e, targets, nparts, nls};
    nc_parallel(part_lines_unit, &job, nparts, NC_MIN(nparts, p->threads));
    int quoted = 0;
    for (int i = 0; i < nparts; i++) quoted |= nls[i] < 0;
    return quoted;
}

/* scan_records for data without a quote byte, where every line end is a record
 * boundary: the same splits and return value, without walking the whole block. */
static size_t plain_records(const uint8_t *b, size_t s, size_t e, const size_t *targets,
                            size_t *splits, int nsplit)
{
    const uint8_t *l = last_nl(b + s, b + e);
    size_t last = l ? (size_t)(l - b) + 1 : s;
    for (int k = 0; k < nsplit; k++) {
        size_t from = targets[k] > s + 1 ? targets[k] - 1 : s;
        const uint8_t *x = from < last ? memchr(b + from, '\n', last - from) : NULL;
        splits[k] = x ? (size_t)(x - b) + 1 : last;
    }
    return last;
}

/* ---------------------------------------------------------------- output columns */

/* The columns grow block by block and are handed over whole at the end. Large ones are
 * page mappings of their own: growing one moves its pages (mremap) instead of copying
 * them, and those of 2 MB or more start on a 2 MB boundary and ask for transparent huge
 * pages, which spare the page fault per 4 KB on first write where the kernel allows (a
 * move keeps the boundary, so pages stay huge). A buffer of n bytes is a mapping exactly
 * when col_mapped(n); nc_csv_take keeps that true of what it hands over, so
 * nc_csv_release knows from the size alone how to free it. */
static int col_mapped(size_t bytes)
{
#ifdef __linux__
    return bytes >= CSV_MAP_BYTES;
#else
    (void)bytes;
    return 0;
#endif
}

#ifdef __linux__
static size_t page_up(size_t n)
{
    return (n + CSV_PAGE - 1) & ~(CSV_PAGE - 1);
}

/* A fresh mapping of len bytes (a page multiple), on a huge page boundary from
 * CSV_HUGE bytes on: a larger one is mapped and its ends cut off. MAP_FAILED when none. */
static void *map_fresh(size_t len)
{
    const int prot = PROT_READ | PROT_WRITE, flags = MAP_PRIVATE | MAP_ANONYMOUS;
    if (len < CSV_HUGE) return mmap(NULL, len, prot, flags, -1, 0);
    uint8_t *q = mmap(NULL, len + CSV_HUGE, prot, flags, -1, 0);
    if (q == MAP_FAILED) return q;
    size_t head = (CSV_HUGE - (uintptr_t)q % CSV_HUGE) % CSV_HUGE;
    if (head) munmap(q, head);
    if (CSV_HUGE - head) munmap(q + head + len, CSV_HUGE - head);
#ifdef MADV_HUGEPAGE
    madvise(q + head, len, MADV_HUGEPAGE); /* advice only: the kernel may decline */
#endif
    return q + head;
}

/* The mapping buf of len bytes made want bytes long (page multiples), moved if it cannot
 * grow where it is. MAP_FAILED when out of memory, buf intact then. */
static void *map_resize(void *buf, size_t len, size_t want)
{
    void *q = mremap(buf, len, want, 0);
    if (q != MAP_FAILED || want < CSV_HUGE) {
        if (q == MAP_FAILED) q = mremap(buf, len, want, MREMAP_MAYMOVE);
#ifdef MADV_HUGEPAGE
        if (q != MAP_FAILED && want >= CSV_HUGE) madvise(q, want, MADV_HUGEPAGE);
#endif
        return q;
    }
    /* Onto a fresh aligned stretch, which the move replaces: the pages' offsets within a
     * huge page stay as they were only from a boundary to a boundary. */
    void *to = map_fresh(want);
    if (to == MAP_FAILED) return to;
    if ((uintptr_t)buf % CSV_HUGE == 0 || len < CSV_HUGE) {
        q = mremap(buf, len, want, MREMAP_MAYMOVE | MREMAP_FIXED, to);
        if (q == MAP_FAILED) munmap(to, want);
        return q;
    }
    memcpy(to, buf, len);
    munmap(buf, len);
    return to;
}
#endif

/* buf (bytes long, NULL and 0 for none) resized to want bytes, contents kept up to the
 * shorter; NULL when out of memory, buf still valid then. */
static void *col_resize(void *buf, size_t bytes, size_t want)
{
#ifdef __linux__
    if (col_mapped(want)) {
        void *q;
        if (buf && col_mapped(bytes)) {
            q = map_resize(buf, page_up(bytes), page_up(want));
        } else {
            q = map_fresh(page_up(want));
            if (q != MAP_FAILED && buf) {
                memcpy(q, buf, bytes < want ? bytes : want);
                free(buf);
            }
        }
        return q == MAP_FAILED ? NULL : q;
    }
    if (buf && col_mapped(bytes)) {
        void *q = malloc(want ? want : 1);
        if (!q) return NULL;
        memcpy(q, buf, want);
        munmap(buf, page_up(bytes));
        return q;
    }
#endif
    return realloc(buf, want ? want : 1);
}

/* Grow *buf (*bytes long) to at least want bytes. 0, or -1 out of memory. */
static int col_grow(void **buf, size_t *bytes, size_t want)
{
    if (want <= *bytes && *buf) return 0;
    void *q = col_resize(*buf, *bytes, want);
    if (!q) return -1;
    *buf = q;
    *bytes = want;
    return 0;
}

void nc_csv_release(void *buf, size_t bytes)
{
#ifdef __linux__
    if (buf && col_mapped(bytes)) {
        munmap(buf, page_up(bytes));
        return;
    }
#endif
    free(buf);
}

/* ---------------------------------------------------------------- the parser */

nc_csv *nc_csv_new(int64_t ncols, const int *kinds, char delimiter, int64_t skip_records,
                   int threads)
{
    nc_csv *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->ncols = ncols;
    p->delim = (uint8_t)delimiter;
    p->skip_left = skip_records;
    p->threads = threads < 1 ? 1 : threads;
    p->line = 1;
    size_t n = (size_t)ncols;
    p->kinds = calloc(n + 1, sizeof *p->kinds);
    p->fmt = calloc(n + 1, sizeof *p->fmt);
    p->fast = calloc(n + 1, sizeof *p->fast);
    p->vals = calloc(n + 1, sizeof *p->vals);
    p->miss = calloc(n + 1, sizeof *p->miss);
    p->codes = calloc(n + 1, sizeof *p->codes);
    p->st = calloc(n + 1, sizeof *p->st);
    p->dicts = calloc(n + 1, sizeof *p->dicts);
    p->vals_bytes = calloc(n + 1, sizeof *p->vals_bytes);
    p->miss_bytes = calloc(n + 1, sizeof *p->miss_bytes);
    p->codes_bytes = calloc(n + 1, sizeof *p->codes_bytes);
    p->isa = nc_get_isa();
    int most = p->threads > 1 ? p->threads * CSV_CHUNKS_PER_THREAD : 1;
    p->chunks = calloc((size_t)most, sizeof *p->chunks);
#ifdef __GLIBC__
    p->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
#endif
    int fail = !p->kinds || !p->fmt || !p->fast || !p->vals || !p->miss || !p->codes || !p->st ||
               !p->dicts || !p->chunks || !p->vals_bytes || !p->miss_bytes || !p->codes_bytes;
#ifdef __GLIBC__
    fail |= p->c_locale == (locale_t)0;
#endif
    if (fail) {
        nc_csv_free(p);
        return NULL;
    }
    for (size_t j = 0; j < n; j++) {
        p->kinds[j] = kinds[j];
        p->fast[j] = kinds[j] == NC_CSV_NUMBER;
        p->fmt[j].plain = 1;
        p->fmt[j].dec[0] = '.';
        p->fmt[j].dec_len = 1;
        p->st[j].first_bad.row = p->st[j].first_nonfinite.row = p->st[j].first_text.row = -1;
    }
    for (int i = 0; i < most; i++) {
        p->nchunks = i + 1;
        if (chunk_init(p, &p->chunks[i])) {
            nc_csv_free(p);
            return NULL;
        }
    }
    return p;
}

/* The output buffers not taken freed, the parser left with none. */
static void columns_free(nc_csv *p)
{
    for (int64_t j = 0; p->vals && p->miss && p->codes && j < p->ncols; j++) {
        nc_csv_release(p->vals[j], p->vals_bytes[j]);
        nc_csv_release(p->miss[j], p->miss_bytes[j]);
        nc_csv_release(p->codes[j], p->codes_bytes[j]);
        p->vals[j] = NULL;
        p->miss[j] = NULL;
        p->codes[j] = NULL;
        p->vals_bytes[j] = p->miss_bytes[j] = p->codes_bytes[j] = 0;
    }
    nc_csv_release(p->lines, p->lines_bytes);
    p->lines = NULL;
    p->lines_bytes = 0;
}

void nc_csv_free(nc_csv *p)
{
    if (!p) return;
    for (int i = 0; i < p->nchunks; i++) chunk_free(p, &p->chunks[i]);
    if (p->vals_bytes && p->miss_bytes && p->codes_bytes) columns_free(p);
    for (int64_t j = 0; j < p->ncols; j++) {
        if (p->st) stats_reset(&p->st[j]);
        if (p->dicts) dict_free(&p->dicts[j]);
    }
    for (int i = 0; i < p->n_na; i++) free(p->na[i]);
    free(p->na);
    free(p->na_len);
    free(p->kinds);
    free(p->fmt);
    free(p->fast);
    free(p->vals);
    free(p->miss);
    free(p->codes);
    free(p->vals_bytes);
    free(p->miss_bytes);
    free(p->codes_bytes);
    free(p->st);
    free(p->dicts);
    free(p->chunks);
    free(p->buf);
#ifdef __GLIBC__
    if (p->c_locale != (locale_t)0) freelocale(p->c_locale);
#endif
    free(p);
}

static int set_mark(uint8_t *dst, int *len, size_t cap, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n >= cap) return -1;
    memcpy(dst, s ? s : "", n);
    *len = (int)n;
    return 0;
}

int nc_csv_set_format(nc_csv *p, int64_t col, const char *decimal, const char *thousands,
                      const char *currency, int percent)
{
    csv_format *f = &p->fmt[col];
    if (set_mark(f->dec, &f->dec_len, sizeof f->dec, decimal ? decimal : ".") ||
        set_mark(f->thou, &f->thou_len, sizeof f->thou, thousands) ||
        set_mark(f->cur, &f->cur_len, sizeof f->cur, currency))
        return -1;
    f->percent = percent != 0;
    f->plain = f->dec_len == 1 && f->dec[0] == '.' && !f->thou_len && !f->cur_len &&
               !f->percent;
    p->fast[col] = p->kinds[col] == NC_CSV_NUMBER && f->plain;
    return 0;
}

int nc_csv_add_na(nc_csv *p, const char *s, size_t len)
{
    if (len == 0) return 0; /* an empty cell is missing anyway */
    char **na = realloc(p->na, (size_t)(p->n_na + 1) * sizeof *na);
    if (!na) return -1;
    p->na = na;
    size_t *nl = realloc(p->na_len, (size_t)(p->n_na + 1) * sizeof *nl);
    if (!nl) return -1;
    p->na_len = nl;
    char *t = malloc(len);
    if (!t) return -1;
    memcpy(t, s, len);
    p->na[p->n_na] = t;
    p->na_len[p->n_na++] = len;
    if (len < 64) p->na_lens |= 1ull << len;
    else p->na_long = 1;
    uint8_t b = (uint8_t)s[0];
    p->na_first[b >> 3] |= (uint8_t)(1u << (b & 7));
    return 0;
}

uint8_t *nc_csv_space(nc_csv *p, size_t block, size_t *avail)
{
    size_t want = block < 1 ? 1 : block;
    if (want < 2 * p->len) want = 2 * p->len;
    if (want > p->cap || !p->buf) {
        uint8_t *b = realloc(p->buf, want + CSV_PAD);
        if (!b) return NULL;
        p->buf = b;
        p->cap = want;
    }
    *avail = p->cap - p->len;
    return p->buf + p->len;
}

void nc_csv_expect(nc_csv *p, size_t bytes)
{
    p->expect = bytes;
}

static int fail(nc_csv *p, int status, int64_t line)
{
    p->err.status = status;
    p->err.line = line;
    return status;
}

/* Every output column with room for cap rows. */
static int resize_rows(nc_csv *p, int64_t cap)
{
    size_t n = (size_t)cap;
    for (int64_t j = 0; j < p->ncols; j++) {
        if (p->kinds[j] == NC_CSV_TEXT) {
            if (col_grow((void **)&p->codes[j], &p->codes_bytes[j], n * sizeof(int32_t)))
                return -1;
        } else if (col_grow((void **)&p->vals[j], &p->vals_bytes[j], n * sizeof(double)) ||
                   col_grow((void **)&p->miss[j], &p->miss_bytes[j], n)) {
            return -1;
        }
    }
    if (col_grow((void **)&p->lines, &p->lines_bytes, n * sizeof(int64_t))) return -1;
    p->rows_cap = cap;
    return 0;
}

/* Room for `need` rows in the parser's columns; when they must grow, room for `likely`
 * rows if that is more and memory allows (the whole file's, so they are sized once). */
static int reserve_rows(nc_csv *p, int64_t need, int64_t likely)
{
    if (need <= p->rows_cap) return 0;
    int64_t cap = p->rows_cap ? p->rows_cap : CSV_ROWS0;
    while (cap < need) cap += cap / 2;
    if (likely > cap && !resize_rows(p, likely)) return 0;
    return resize_rows(p, cap);
}

/* Point chunk c's line numbers at the parser's from its first row on. */
static void chunk_place(nc_csv *p, csv_chunk *c)
{
    c->lines = p->lines + c->first;
}

/* Move each chunk's rows down to follow the chunk before it, where blank records or line
 * ends inside quoted fields left some of its room unused; c->first becomes its row. */
static void close_gaps(nc_csv *p, int nch)
{
    int64_t to = p->chunks[0].first + p->chunks[0].rows;
    for (int i = 1; i < nch; i++) {
        csv_chunk *c = &p->chunks[i];
        size_t n = (size_t)c->rows;
        if (c->first != to && n) {
            for (int64_t j = 0; j < p->ncols; j++) {
                if (p->kinds[j] == NC_CSV_TEXT) {
                    memmove(p->codes[j] + to, p->codes[j] + c->first, n * sizeof(int32_t));
                } else {
                    memmove(p->vals[j] + to, p->vals[j] + c->first, n * sizeof(double));
                    memmove(p->miss[j] + to, p->miss[j] + c->first, n);
                }
            }
            memmove(p->lines + to, p->lines + c->first, n * sizeof(int64_t));
        }
        c->first = to;
        to += c->rows;
    }
}

/* Fold the chunks' codes and counts into the parser's, in chunk order; their rows and
 * line numbers are in place already, without gaps (close_gaps). */
/* Chunk i's text codes, from its own dictionary's numbering to the merged one's. */
static void recode_unit(void *arg, int64_t i, int slot)
{
    const nc_csv *p = arg;
    const csv_chunk *c = &p->chunks[i];
    int64_t o = c->first, n = c->rows;
    (void)slot;
    for (int64_t j = 0; j < p->ncols; j++) {
        if (p->kinds[j] != NC_CSV_TEXT) continue;
        int32_t *code = p->codes[j] + o;
        const int32_t *map = c->maps[j];
        for (int64_t r = 0; r < n; r++) code[r] = code[r] < 0 ? -1 : map[code[r]];
    }
}

static int merge_chunks(nc_csv *p, int nch)
{
    const int64_t total = p->chunks[nch - 1].first + p->chunks[nch - 1].rows - p->rows;
    int64_t ln = p->line;
    int text = 0;
    for (int i = 0; i < nch; i++) ln += p->chunks[i].nl;
    for (int64_t j = 0; j < p->ncols; j++) text |= p->kinds[j] == NC_CSV_TEXT;
    /* Global codes in order of first appearance: chunk by chunk, each chunk's strings in
     * its own first-appearance order. */
    for (int64_t j = 0; j < p->ncols; j++) {
        if (p->kinds[j] != NC_CSV_TEXT) continue;
        for (int i = 0; i < nch; i++) {
            csv_chunk *c = &p->chunks[i];
            csv_dict *d = &c->dicts[j];
            if (grow((void **)&c->maps[j], &c->maps_cap[j], d->n, sizeof(int32_t))) return -1;
            for (int64_t k = 0; k < d->n; k++) {
                const csv_entry *en = &d->ents[k];
                int added;
                int64_t g = dict_add(&p->dicts[j], (const uint8_t *)d->arena + en->off,
                                     (size_t)en->len, en->hash, &added);
                if (g < 0) return -1;
                if (added) p->dicts[j].ents[g].is_number = en->is_number;
                c->maps[j][k] = (int32_t)g;
            }
        }
    }
    for (int64_t j = 0; j < p->ncols; j++) {
        csv_stats *g = &p->st[j];
        for (int i = 0; i < nch; i++) {
            csv_stats *s = &p->chunks[i].st[j];
            csv_first *from[3] = {&s->first_bad, &s->first_nonfinite, &s->first_text};
            csv_first *to[3] = {&g->first_bad, &g->first_nonfinite, &g->first_text};
            for (int f = 0; f < 3; f++) {
                if (from[f]->text && !to[f]->text) {
                    *to[f] = *from[f];
                    to[f]->row += p->done + p->chunks[i].first;
                    from[f]->text = NULL;
                    from[f]->row = -1;
                }
            }
            g->present += s->present;
            g->bad += s->bad;
            g->nonfinite += s->nonfinite;
            g->numbers += s->numbers;
            g->not_integral |= s->not_integral;
            g->has_time |= s->has_time;
        }
    }
    if (text) nc_parallel(recode_unit, p, nch, total >= 4096 ? NC_MIN(nch, p->threads) : 1);
    p->rows += total;
    p->line = ln;
    return 0;
}

/* The first error among the chunks, in file order; its line from the chunks before it. */
static int chunk_error(nc_csv *p, int nch)
{
    int64_t ln = p->line;
    for (int i = 0; i < nch; i++) {
        csv_chunk *c = &p->chunks[i];
        if (c->status == NC_CSV_OK) {
            ln += c->nl;
            continue;
        }
        if (c->status == NC_CSV_NOMEM) return fail(p, NC_CSV_NOMEM, 0);
        int64_t line = ln + count_nl(c->start, c->err_at);
        if (c->status == NC_CSV_BADUTF8) {
            p->err.byte = *c->err_at;
            return fail(p, NC_CSV_BADUTF8, line);
        }
        /* Ragged: look at the record again for the message's hint. */
        csv_rec r;
        c->nl = 0;
        parse_record(p, c, c->err_at, REC_INSPECT, &r);
        p->err.fields = r.fields;
        p->err.multiline = r.multiline;
        p->err.last_empty = r.last_empty;
        return fail(p, NC_CSV_RAGGED, line);
    }
    return NC_CSV_OK;
}

/* The line ends of chunk i: an upper bound of its rows. */
static void bound_unit(void *arg, int64_t i, int slot)
{
    const nc_csv *p = arg;
    csv_chunk *c = &p->chunks[i];
    (void)slot;
    c->bound = count_lines(p->isa, c->start, c->end);
}

static void parse_unit(void *arg, int64_t i, int slot)
{
    const nc_csv *p = arg;
    (void)slot;
    parse_chunk(p, &p->chunks[i]);
}

int nc_csv_feed(nc_csv *p, size_t n, int eof)
{
    if (p->err.status) return p->err.status;
    p->len += n;
    p->fed += n;
    uint8_t *b = p->buf;
    if (!b) return NC_CSV_OK;
    if (!p->bom_done) {
        static const uint8_t BOM[3] = {0xEF, 0xBB, 0xBF};
        size_t k = p->len < 3 ? p->len : 3;
        if (!eof && k < 3 && memcmp(b, BOM, k) == 0) return NC_CSV_OK; /* wait for more */
        if (p->len >= 3 && memcmp(b, BOM, 3) == 0) {
            memmove(b, b + 3, p->len - 3);
            p->len -= 3;
        }
        p->bom_done = 1;
    }
    size_t size = p->len;
    /* A last record without a line end gets one: every record then ends in one. */
    if (eof && size > 0 && b[size - 1] != '\n') b[size++] = '\n';
    /* A line end after the data stops word-at-a-time field scans there. */
    memset(b + size, 0, 16);
    b[size] = '\n';

    size_t s = 0;
    int open = 0;
    csv_chunk *c0 = &p->chunks[0];
    while (p->skip_left > 0 && s < size) {
        size_t end = scan_records(b, s, size, p->delim, 1, NULL, NULL, 0, &open);
        if (end == s) break;
        const uint8_t *bad = utf8_first_bad(b + s, b + end);
        if (bad) {
            p->err.byte = *bad;
            return fail(p, NC_CSV_BADUTF8, p->line + count_nl(b + s, bad));
        }
        csv_rec r;
        c0->start = b + s;
        c0->end = b + end;
        c0->nl = 0;
        parse_record(p, c0, b + s, REC_SKIP, &r);
        if (c0->status) return fail(p, c0->status, 0);
        p->line += c0->nl;
        p->skip_left -= r.nonempty;
        s = end;
    }

    int nch = 1;
    if (p->threads > 1 && size - s >= 2 * (size_t)CSV_MIN_CHUNK) {
        size_t most = (size - s) / CSV_MIN_CHUNK;
        nch = most < (size_t)p->nchunks ? (int)most : p->nchunks;
    }
    size_t targets[nch], splits[nch];
    int64_t nls[nch];
    for (int i = 0; i < nch - 1; i++) targets[i] = s + (size - s) / nch * (size_t)(i + 1);
    size_t done;
    int counted = 0;
    if (p->skip_left > 0) {
        done = s;
    } else if (!part_lines(p, b, s, size, targets, nch, nls)) {
        /* Without quotes every line end ends a record: the chunks' line ends follow from
         * the parts' counts and the few bytes between each target and its split. */
        done = plain_records(b, s, size, targets, splits, nch - 1);
        int64_t at = 0, prev = 0;
        for (int i = 0; i < nch; i++) {
            at += nls[i]; /* line ends before targets[i], or in the block for the last */
            int64_t upto = at; /* line ends before splits[i] (none after done) */
            if (i < nch - 1 && splits[i] >= targets[i])
                upto += count_lines(p->isa, b + targets[i], b + splits[i]);
            else if (i < nch - 1)
                upto -= count_lines(p->isa, b + splits[i], b + targets[i]);
            p->chunks[i].bound = upto - prev;
            prev = upto;
        }
        counted = 1;
    } else {
        done = scan_records(b, s, size, p->delim, 0, targets, splits, nch - 1, &open);
    }
    splits[nch - 1] = done;
    size_t from = s;
    for (int i = 0; i < nch; i++) {
        p->chunks[i].start = b + from;
        p->chunks[i].end = b + splits[i];
        from = splits[i];
    }
    if (done > s) {
        /* A chunk has at most one row per line end: with that much room each, all write
         * their rows straight into the columns. */
        int nt = NC_MIN(nch, p->threads);
        if (!counted) {
            nc_parallel(bound_unit, p, nch, nt);
        }
        int64_t room = p->rows, line = p->line;
        for (int i = 0; i < nch; i++) {
            p->chunks[i].plain = counted;
            p->chunks[i].first = room;
            p->chunks[i].line0 = line;
            room += p->chunks[i].bound;
            line += p->chunks[i].bound; /* a chunk consumes all its line ends */
        }
        /* The rows of the bytes still to come, at this block's density, plus a little. */
        int64_t likely = room;
        if (p->expect > p->fed)
            likely += (int64_t)((double)(room - p->rows) * 1.0625 *
                                (double)(p->expect - p->fed) / (double)(done - s));
        if (reserve_rows(p, room, likely)) return fail(p, NC_CSV_NOMEM, 0);
        for (int i = 0; i < nch; i++) chunk_place(p, &p->chunks[i]);
        nc_parallel(parse_unit, p, nch, nt);
        if (chunk_error(p, nch)) return p->err.status;
        close_gaps(p, nch);
        if (merge_chunks(p, nch)) return fail(p, NC_CSV_NOMEM, 0);
    }
    if (eof && done < size) {
        /* What is left can only be a record whose quote never closes. */
        const uint8_t *bad = utf8_first_bad(b + done, b + size);
        if (bad) {
            p->err.byte = *bad;
            return fail(p, NC_CSV_BADUTF8, p->line + count_nl(b + done, bad));
        }
        return fail(p, NC_CSV_UNCLOSED, p->line);
    }
    if (eof) done = size;
    memmove(b, b + done, p->len > done ? p->len - done : 0);
    p->len = p->len > done ? p->len - done : 0;
    return NC_CSV_OK;
}

const nc_csv_error *nc_csv_last_error(const nc_csv *p)
{
    return &p->err;
}

int64_t nc_csv_rows(const nc_csv *p)
{
    return p->rows;
}

void nc_csv_flush(nc_csv *p)
{
    columns_free(p);
    p->done += p->rows;
    p->rows = p->rows_cap = 0;
}

void nc_csv_column_stats(const nc_csv *p, int64_t col, nc_csv_stats *st)
{
    const csv_stats *s = &p->st[col];
    st->present = s->present;
    st->bad = s->bad;
    st->nonfinite = s->nonfinite;
    st->numbers = s->numbers;
    st->bad_row = s->first_bad.text ? s->first_bad.row : -1;
    st->nonfinite_row = s->first_nonfinite.text ? s->first_nonfinite.row : -1;
    st->text_row = s->first_text.text ? s->first_text.row : -1;
    st->bad_text = s->first_bad.text;
    st->bad_len = s->first_bad.len;
    st->nonfinite_text = s->first_nonfinite.text;
    st->nonfinite_len = s->first_nonfinite.len;
    st->text_text = s->first_text.text;
    st->text_len = s->first_text.len;
    st->integral = !s->not_integral;
    st->has_time = s->has_time;
}

void *nc_csv_take(nc_csv *p, int64_t col, int what)
{
    void **slot;
    size_t elem, *bytes;
    if (what == NC_CSV_LINES) {
        slot = (void **)&p->lines;
        bytes = &p->lines_bytes;
        elem = sizeof(int64_t);
    } else if (col < 0 || col >= p->ncols) {
        return NULL;
    } else if (what == NC_CSV_CODES && p->kinds[col] == NC_CSV_TEXT) {
        slot = (void **)&p->codes[col];
        bytes = &p->codes_bytes[col];
        elem = sizeof(int32_t);
    } else if (what == NC_CSV_VALUES && p->kinds[col] != NC_CSV_TEXT) {
        slot = (void **)&p->vals[col];
        bytes = &p->vals_bytes[col];
        elem = sizeof(double);
    } else if (what == NC_CSV_MISSING && p->kinds[col] != NC_CSV_TEXT) {
        slot = (void **)&p->miss[col];
        bytes = &p->miss_bytes[col];
        elem = 1;
    } else {
        return NULL;
    }
    if (!*slot || p->rows == 0) return NULL;
    /* Cut to the rows, so the size the caller knows is the buffer's own. */
    void *out = col_resize(*slot, *bytes, (size_t)p->rows * elem);
    if (!out) return NULL;
    *slot = NULL;
    *bytes = 0;
    return out;
}

int64_t nc_csv_categories(const nc_csv *p, int64_t col)
{
    return p->kinds[col] == NC_CSV_TEXT ? p->dicts[col].n : 0;
}

const char *nc_csv_category(const nc_csv *p, int64_t col, int64_t code, size_t *len)
{
    const csv_dict *d = &p->dicts[col];
    *len = (size_t)d->ents[code].len;
    return d->arena + d->ents[code].off;
}
