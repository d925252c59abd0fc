/* Process-wide settings: the thread count and the ISA path. */
#include "internal.h"

static int nc_num_threads = 1;
static int nc_isa = -1; /* -1: not chosen yet */

void nc_set_num_threads(int n)
{
    nc_num_threads = n < 1 ? 1 : n > NC_MAX_THREADS ? NC_MAX_THREADS : n;
}

/* Every parallel kernel runs on the core's own pool (pool.c) within this setting. */
int nc_get_num_threads(void)
{
    return nc_num_threads;
}

int nc_detect_isa(void)
{
#if NC_X86 && defined(__GNUC__)
    /* libgcc's checks include the OS's XCR0 state, so a CPU with AVX-512 under an OS
     * that does not save zmm registers reports no avx512f. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return NC_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return NC_ISA_AVX2;
#endif
    return NC_ISA_PORTABLE;
}

int nc_set_isa(int isa)
{
    int best = nc_detect_isa();
    if (isa < NC_ISA_PORTABLE) isa = NC_ISA_PORTABLE;
    nc_isa = isa > best ? best : isa;
    return nc_isa;
}

int nc_get_isa(void)
{
    if (nc_isa < 0) nc_isa = nc_detect_isa();
    return nc_isa;
}
