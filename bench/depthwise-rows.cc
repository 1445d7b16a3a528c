// npm run bench:depthwise — the native depthwise row kernel alone, per layer shape of the width-64
// BLU-Net (AVX-512 build of native/engine/src/kernels.h, 1 core, hot rows laid out as
// separableRows lays them out: 4 ring rows with a zero pixel at each end, then the output rows,
// rows and weights depthwiseStride floats per pixel and tap).
// One output row at a time against two (depthwiseRows with count 2: K + 1 input rows serve both),
// the 3×3 kernel and the expanding path's 2×2, also on an upsample read in place. Needs g++ and an
// AVX-512 CPU.
#include "table.h"
#include <immintrin.h>
#include <chrono>
#include <cstdio>
int bluProfiling = 0;
uint64_t bluProfileNs[STAGE_COUNT] = {0};
uint64_t bluNowNs() { return 0; }
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx512vpopcntdq,avx2,fma,popcnt,bmi,bmi2")
#define KNS blu_avx512
#define KNAME "AVX-512"
#define BLU_AVX2 1
#define BLU_AVX512 1
#include "kernels.h"

namespace blu_avx512 {
/**
 * G multiply-adds/s of depthwiseRows (k×k, `count` output rows per call) over `cin` channels and
 * `width` pixels; up = 1: on a nearest ×2 upsample, as an even output row pair reads it (rows at
 * half width, the first given twice).
 */
double rowRate(int width, int cin, int k, int count, int up = 0) {
  const int stride = depthwiseStride(cin);
  // As SeparableRing's slots and separableRows' depthwise rows: whole cache lines.
  const size_t ringFloats = padTo((width + 2) * stride, 16), rowFloats = padTo(width * stride, 16);
  float* scratch = (float*)aligned_alloc(4096, (4 * ringFloats + 2 * rowFloats) * 4);
  for (size_t i = 0; i < 4 * ringFloats + 2 * rowFloats; i++) scratch[i] = (float)(i % 7) * 0.1f;
  float* rows[4];
  for (int r = 0; r < 4; r++) {
    float* ring = scratch + r * ringFloats;
    for (int c = 0; c < stride; c++) ring[c] = ring[(size_t)(width + 1) * stride + c] = 0;
    rows[r] = ring + stride;
    if (up) for (int c = 0; c < stride; c++) ring[(size_t)(width / 2 + 1) * stride + c] = 0;
  }
  if (up) rows[2] = rows[1], rows[1] = rows[0];
  float* out[2] = {scratch + 4 * ringFloats, scratch + 4 * ringFloats + rowFloats};
  float* weights = (float*)aligned_alloc(64, padTo(9 * stride * 4, 64));
  for (int i = 0; i < 9 * stride; i++) weights[i] = 0.01f * (float)(i % 5);
  const double perCall = (double)width * cin * k * k * count;
  const int reps = (int)(4e8 / perCall) + 1;
  for (int i = 0; i < 3; i++) depthwiseRows<true>(rows, stride, k, up, count, width, cin, weights, nullptr, out);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; i++) depthwiseRows<true>(rows, stride, k, up, count, width, cin, weights, nullptr, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  free(scratch);
  free(weights);
  return perCall * reps / seconds / 1e9;
}
}  // namespace blu_avx512

int main() {
  if (!__builtin_cpu_supports("avx512f")) {
    printf("bench:depthwise needs an AVX-512 CPU\n");
    return 0;
  }
  const int shapes[][2] = {{512, 64}, {256, 128}, {128, 256}, {64, 512}, {32, 1024}};
  printf("depthwiseRows, AVX-512, 1 core, hot rows, G multiply-adds/s: 3x3 one row | 3x3 two rows | 2x2 one row | 2x2 two rows | 2x2 two rows on an upsample\n");
  for (const auto& s : shapes)
    printf("  %4d px x %4d channels: %6.1f | %6.1f | %6.1f | %6.1f | %6.1f\n", s[0], s[1], blu_avx512::rowRate(s[0], s[1], 3, 1),
           blu_avx512::rowRate(s[0], s[1], 3, 2), blu_avx512::rowRate(s[0], s[1], 2, 1), blu_avx512::rowRate(s[0], s[1], 2, 2),
           blu_avx512::rowRate(s[0], s[1], 2, 2, 1));
  return 0;
}
