#include <iostream>

#include "greeting.h"

int main() {
  std::cout << greeting("offline") << std::endl;
  return 0;
}
