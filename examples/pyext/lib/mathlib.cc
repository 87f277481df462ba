#include "lib/mathlib.h"

#include <vector>

namespace mathlib {

std::uint64_t Fib(int n) {
  std::vector<std::uint64_t> seq = {0, 1};
  for (int i = 2; i <= n; ++i) seq.push_back(seq[i - 1] + seq[i - 2]);
  return seq[n];
}

std::string CompiledFor() {
#if defined(__aarch64__)
  return "aarch64";
#elif defined(__arm__)
  return "arm";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__x86_64__)
  return "x86_64";
#else
  return "unknown";
#endif
}

}  // namespace mathlib
