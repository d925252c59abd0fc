/* Instantiates a template body for float and double. A family's .c file defines
 * NC_TEMPLATE as the body's file name and includes this header; the body sees T (the
 * element type) and SFX (f32 or f64), and names its functions with NC_CAT(name, SFX). */
#ifndef NC_TEMPLATE
#error "define NC_TEMPLATE as the template body to instantiate"
#endif

#define T float
#define SFX f32
#include NC_TEMPLATE
#undef T
#undef SFX

#define T double
#define SFX f64
#include NC_TEMPLATE
#undef T
#undef SFX

#undef NC_TEMPLATE
