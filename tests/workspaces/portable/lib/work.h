#pragma once
#include <string>

namespace portable {
// Sums 1..n on `threads` std::threads through shared_ptr state; throws
// std::invalid_argument for n < 0 (caught across the library boundary).
long long parallel_sum(long long n, int threads);
std::string describe(long long n);
}  // namespace portable
