#include <stdio.h>

#include "version.h"

int main(void) {
  printf("rules_license=[%s]\n", RULES_PYTHON);
  return 0;
}
