// Run under qemu by `cross-compiler test`: threads and an exception across libwork.so.
#include <cstdio>
#include <stdexcept>

#include "lib/work.h"

int main() {
  if (portable::parallel_sum(1000, 4) != 500500) {
    std::puts("parallel_sum(1000) is wrong");
    return 1;
  }
  try {
    portable::parallel_sum(-1, 4);
  } catch (const std::invalid_argument&) {
    std::puts("ok");
    return 0;
  }
  std::puts("no exception from parallel_sum(-1)");
  return 1;
}
