#include <iostream>

#include "app/arch.h"

int main() {
  std::cout << arch_name() << " " << pointer_bits() << std::endl;
  return 0;
}
