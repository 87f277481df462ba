#include <stdio.h>

#include "features.h"
#include "seen.h"

int main(void) {
  printf("native.bazel_version=[%s] bazel_features=[%s]\n", SEEN_BAZEL_VERSION,
         FEATURES_BAZEL_VERSION);
  return 0;
}
