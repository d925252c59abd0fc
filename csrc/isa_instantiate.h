/* Instantiates a per-ISA template body inside a T/SFX template: once for the portable
 * path and, on x86, once each for AVX2 and AVX-512. The file including this defines
 * NC_ISA_TEMPLATE as the body's file name; the body sees ISA (the name suffix), VB (the
 * native vector's bytes), ISA_TARGET (the function attribute), ISA_FMA (256 or 512 where
 * the ISA has vector FMA, else 0) and the helpers of vec_isa.h. */
#ifndef NC_ISA_TEMPLATE
#error "define NC_ISA_TEMPLATE as the per-ISA template body to instantiate"
#endif

#if NC_X86
#include <immintrin.h>
#endif

#define ISA portable
#define VB 16
#define ISA_TARGET
#define ISA_FMA 0
#include "isa_one.h"

#if NC_X86
#define ISA avx2
#define VB 32
#define ISA_TARGET NC_TARGET_AVX2
#define ISA_FMA 256
#include "isa_one.h"

#define ISA avx512
#define VB 64
#define ISA_TARGET NC_TARGET_AVX512
#define ISA_FMA 512
#include "isa_one.h"
#endif

#undef NC_ISA_TEMPLATE
