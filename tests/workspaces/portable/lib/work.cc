#include "lib/work.h"

#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

namespace portable {

long long parallel_sum(long long n, int threads) {
  if (n < 0) throw std::invalid_argument("n must not be negative");
  struct State {
    std::mutex lock;
    long long total = 0;
  };
  auto state = std::make_shared<State>();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([state, n, t, threads] {
      long long part = 0;
      for (long long i = t + 1; i <= n; i += threads) part += i;
      std::lock_guard<std::mutex> guard(state->lock);
      state->total += part;
    });
  }
  for (auto& thread : pool) thread.join();
  return state->total;
}

std::string describe(long long n) {
  std::ostringstream out;
  try {
    out << "sum(" << n << ")=" << parallel_sum(n, 4);
  } catch (const std::exception& e) {
    out << "error: " << e.what();
  }
  return out.str();
}

}  // namespace portable
