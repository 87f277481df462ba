#include "app/arch.h"

int main() { return arch_name() == "host" || pointer_bits() < 32 ? 1 : 0; }
