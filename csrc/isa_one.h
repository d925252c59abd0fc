/* One instantiation of isa_instantiate.h: the vector helpers and the body for the ISA
 * that ISA, VB, ISA_TARGET and ISA_FMA name, then those names cleared for the next. */
#include "vec_isa.h"
#include NC_ISA_TEMPLATE
#undef ISA
#undef VB
#undef ISA_TARGET
#undef ISA_FMA
#undef FNI
#undef NV
#undef LD
#undef ST
