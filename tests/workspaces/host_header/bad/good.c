#include <stdlib.h>

int good(void) { return (int)sizeof(long); }
