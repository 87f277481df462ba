#include <cstdlib>
#include <iostream>

#include "lib/work.h"

int main(int argc, char** argv) {
  long long n = argc > 1 ? std::atoll(argv[1]) : 100;
  std::cout << portable::describe(n) << std::endl;
  std::cout << portable::describe(-1) << std::endl;
  return 0;
}
