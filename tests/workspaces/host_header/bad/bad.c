/* The build machine's pyconfig.h: SIZEOF_LONG 8 and HAVE_GCC_ASM_FOR_X87, whatever the target. */
#include <x86_64-linux-gnu/python3.11/pyconfig.h>

int bad(void) { return SIZEOF_LONG; }
