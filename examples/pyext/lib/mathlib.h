#ifndef CROSS_COMPILER_EXAMPLE_MATHLIB_H_
#define CROSS_COMPILER_EXAMPLE_MATHLIB_H_

#include <cstdint>
#include <string>

namespace mathlib {

// The n-th Fibonacci number (fib(0) = 0), computed in 64-bit arithmetic.
std::uint64_t Fib(int n);

// The CPU this library was compiled for, from the compiler's predefined macros.
std::string CompiledFor();

}  // namespace mathlib

#endif  // CROSS_COMPILER_EXAMPLE_MATHLIB_H_
