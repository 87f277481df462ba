#include <cstdio>
#include <cstdlib>

#include "lib/mathlib.h"

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 50;
  std::printf("hello from %s: fib(%d) = %llu\n", mathlib::CompiledFor().c_str(), n,
              static_cast<unsigned long long>(mathlib::Fib(n)));
  return 0;
}
