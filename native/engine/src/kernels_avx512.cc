// AVX-512 build of the kernels (F, BW, VL, DQ, VPOPCNTDQ; x86-64 only), selected at run time.
#include "table.h"
#include <immintrin.h>
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq,avx2,fma,popcnt,bmi,bmi2"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq,avx2,fma,popcnt,bmi,bmi2")
#endif
#define KNS blu_avx512
#define KNAME "AVX-512 (VPOPCNTDQ, FMA)"
#define BLU_AVX2 1
#define BLU_AVX512 1
#include "kernels.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
namespace blu_avx512 { extern const KernelTable table = { nullptr, 0, {} }; }
#endif
