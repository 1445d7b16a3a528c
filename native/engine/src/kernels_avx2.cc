// AVX2 + FMA build of the kernels (x86-64 only), selected at run time; the rest of the addon
// stays baseline x86-64. Standard headers come first so no inline library function is
// compiled for AVX2 (the linker could otherwise keep that copy for baseline callers).
#include "table.h"
#include <immintrin.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,popcnt,bmi,bmi2"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,popcnt,bmi,bmi2")
#endif
#define KNS blu_avx2
#define KNAME "AVX2+FMA"
#define BLU_AVX2 1
#include "kernels.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
namespace blu_avx2 { extern const KernelTable table = { nullptr, 0, {} }; }
#endif
