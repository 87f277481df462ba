#include <cstdio>

// The architecture it was compiled for, and its first argument.
int main(int argc, char **argv) {
#if defined(__aarch64__)
  const char *arch = "aarch64";
#elif defined(__arm__)
  const char *arch = "arm";
#elif defined(__x86_64__)
  const char *arch = "x86_64";
#else
  const char *arch = "other";
#endif
  std::printf("%s %zu %s\n", arch, sizeof(void *) * 8, argc > 1 ? argv[1] : "-");
  return 0;
}
