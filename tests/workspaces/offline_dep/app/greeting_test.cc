#include <cstdlib>
#include <iostream>

#include "greeting.h"

int main() {
  // FAIL_GREETING_TEST makes the test fail (the tool must pass Bazel's exit code on).
  if (std::getenv("FAIL_GREETING_TEST") != nullptr) return 3;
  const bool ok = greeting("x") == "hello, x" && sizeof(void*) * 8 == POINTER_BITS;
  std::cout << (ok ? "PASS" : "FAIL") << std::endl;
  return ok ? 0 : 1;
}
