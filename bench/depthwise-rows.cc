// npm run bench:depthwise — the native depthwise row kernel alone, per layer shape of the width-64
// BLU-Net (AVX-512 build of native/engine/src/kernels.h, 1 core, 3 hot 64-byte-aligned input rows).
// How the layout of the decoded rows bounds the depthwise stage (docs/design/engine.md): rows a
// multiple of 4 KiB apart put the same pixel of every row in one L1 set, and in deep layers a
// pixel's 2–4 KiB of channels do the same to neighbouring pixels. The last column lengthens the
// pixel stride by a cache line (the kernel then also computes those 16 padding channels; G/s counts
// the real channels only). Needs g++ and an AVX-512 CPU.
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
 * G multiply-adds/s of depthwiseRow over `cin` channels stored `cin + extra` apart, its 3 input
 * rows and output row laid out in one buffer as the engine's ring is (whole cache lines apart),
 * plus `gapLines` cache lines between consecutive rows.
 */
double rowRate(int width, int cin, int extra, int gapLines) {
  const int stride = cin + extra;
  const size_t rowFloats = ((size_t)width * stride + 15) / 16 * 16 + (size_t)gapLines * 16;
  float* scratch = (float*)aligned_alloc(4096, 4 * rowFloats * 4);
  for (size_t i = 0; i < 4 * rowFloats; i++) scratch[i] = (float)(i % 7) * 0.1f;
  float* rows[3] = {scratch, scratch + rowFloats, scratch + 2 * rowFloats};
  float* out = scratch + 3 * rowFloats;
  float* weights = (float*)aligned_alloc(64, 9 * (size_t)stride * 4 + 64);
  for (int i = 0; i < 9 * stride; i++) weights[i] = 0.01f * (float)(i % 5);
  const int reps = (int)(400000000 / ((size_t)width * cin * 9)) + 1;
  for (int i = 0; i < 3; i++) depthwiseRow<true>(rows, 3, width, stride, weights, nullptr, out);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; i++) depthwiseRow<true>(rows, 3, width, stride, weights, nullptr, out);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  free(scratch);
  free(weights);
  return (double)width * cin * 9 * reps / seconds / 1e9;
}
}  // namespace blu_avx512

int main() {
  if (!__builtin_cpu_supports("avx512f")) {
    printf("bench:depthwise needs an AVX-512 CPU\n");
    return 0;
  }
  const int shapes[][2] = {{512, 64}, {256, 128}, {128, 256}, {64, 512}, {32, 1024}};
  printf("depthwiseRow, AVX-512, 1 core, G multiply-adds/s: rows as the engine lays them out | rows a cache line further apart | and the pixel stride 16 floats longer\n");
  for (const auto& s : shapes)
    printf("  %4d px x %4d channels: %6.1f | %6.1f | %6.1f\n", s[0], s[1], blu_avx512::rowRate(s[0], s[1], 0, 0), blu_avx512::rowRate(s[0], s[1], 0, 1),
           blu_avx512::rowRate(s[0], s[1], 16, 1));
  return 0;
}
