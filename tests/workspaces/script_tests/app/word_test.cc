// A target ELF: fails if it was built for (or runs as) the build machine.
int main() {
#if defined(__x86_64__)
  return 1;
#else
  return 0;
#endif
}
