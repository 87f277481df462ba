#include "app/arch.h"

std::string arch_name() { return ARCH_NAME; }
int pointer_bits() { return static_cast<int>(sizeof(void*) * 8); }
