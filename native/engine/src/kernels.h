// The engine's kernels in C++: the same row loops, layouts and per-output sum orders as
// src/ml/engine/assembly/kernels.ts (read that file's comments for the maths). Included once per
// instruction set inside namespace KNS; BLU_AVX2 / BLU_AVX512 select the hand-vectorised paths,
// everything else is plain C++ the compiler vectorises for that target. Built with
// -ffp-contract=off: the only fused multiply-adds are the explicit ones (GEMM, depthwise, first
// conv), as in the relaxed-SIMD wasm build.
#include <stdint.h>

namespace KNS {
namespace {

typedef uint32_t u32;
typedef uint64_t u64;

inline int imin(int a, int b) { return a < b ? a : b; }
inline int pad8(int n) { return (n + 7) & ~7; }
/** n rounded up to a multiple of pad. */
inline int padTo(int n, int pad) { return (n + pad - 1) / pad * pad; }

// ---- arguments: offsets into the memory (0 = none) and integers, as JavaScript numbers ----
struct Args {
  uint8_t* base;
  const double* a;
  int i(int k) const { return (int)a[k]; }
  template <typename T> T* p(int k) const { return a[k] == 0 ? nullptr : (T*)(base + (size_t)a[k]); }
};

inline int claim(int32_t* next, int chunk) { return __atomic_fetch_add(next, chunk, __ATOMIC_RELAXED); }

/** Adds the time until it goes out of scope to a profile stage, when profiling is on. */
struct StageTimer {
  int stage;
  uint64_t start;
  explicit StageTimer(int s) : stage(s), start(bluProfiling ? bluNowNs() : 0) {}
  ~StageTimer() { stop(); }
  void stop() {
    if (start) __atomic_fetch_add(&bluProfileNs[stage], bluNowNs() - start, __ATOMIC_RELAXED);
    start = 0;
  }
};

inline int popcount64(u64 v) { return __builtin_popcountll(v); }
inline int popcount32(u32 v) { return __builtin_popcount(v); }

// Thread-local scratch the native kernels need beyond the host's (transposed weights, tables).
template <typename T> T* local(size_t count, int slot) {
  static thread_local T* buffers[4] = {nullptr, nullptr, nullptr, nullptr};
  static thread_local size_t sizes[4] = {0, 0, 0, 0};
  if (sizes[slot] < count) {
    free(buffers[slot]);
    buffers[slot] = (T*)aligned_alloc(64, ((count * sizeof(T) + 63) / 64) * 64);
    sizes[slot] = count;
  }
  return buffers[slot];
}

#if BLU_AVX512
/** The mask of the first min(n, 16) lanes (n ≥ 1): the lanes of a 16-float vector that hold data. */
inline __mmask16 firstLanes16(int n) { return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1); }
#endif

// ---- decoding binarised activations to their values ----

void decodeRow(const u32* signs, const u32* nonzero, int pixels, int words, int levels, const float* gammas, int channels,
               int pixelStart, int count, float* out, int outStride, int outOffset) {
  for (int p = 0; p < count; p++) {
    float* dst = out + (size_t)p * outStride + outOffset;
    for (int w = 0; w < words; w++) {
      const int lanes = imin(32, channels - 32 * w);
#if BLU_AVX512
      for (int v = 0; v < lanes; v += 16) {
        const __mmask16 keep = firstLanes16(lanes - v);
        __m512 sum = _mm512_setzero_ps();
        for (int n = 0; n < levels; n++) {
          const size_t at = ((size_t)(n * pixels + pixelStart + p)) * words + w;
          const __m512 g = _mm512_set1_ps(gammas[n]);
          __m512 t = _mm512_mask_blend_ps((__mmask16)(signs[at] >> v), _mm512_sub_ps(_mm512_setzero_ps(), g), g);
          if (nonzero) t = _mm512_maskz_mov_ps((__mmask16)(nonzero[at] >> v), t);
          sum = n == 0 ? t : _mm512_add_ps(sum, t);
        }
        _mm512_mask_storeu_ps(dst + 32 * w + v, keep, sum);
      }
#else
      int c = 0;
#if BLU_AVX2
      // 8 channels at a time: each lane tests its own bit of the word.
      const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
      for (; c + 8 <= lanes; c += 8) {
        __m256 sum = _mm256_setzero_ps();
        for (int n = 0; n < levels; n++) {
          const size_t at = ((size_t)(n * pixels + pixelStart + p)) * words + w;
          const __m256 g = _mm256_set1_ps(gammas[n]);
          const __m256 plus = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(signs[at] >> c)), bit), bit));
          __m256 t = _mm256_blendv_ps(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)), g, plus);
          if (nonzero) t = _mm256_and_ps(t, _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)(nonzero[at] >> c)), bit), bit)));
          sum = n == 0 ? t : _mm256_add_ps(sum, t);
        }
        _mm256_storeu_ps(dst + 32 * w + c, sum);
      }
#endif
      for (; c < lanes; c++) {
        float v = 0;
        for (int n = 0; n < levels; n++) {
          const size_t at = ((size_t)(n * pixels + pixelStart + p)) * words + w;
          const float g = gammas[n];
          float t = (signs[at] >> c) & 1 ? g : -g;
          if (nonzero && ((nonzero[at] >> c) & 1) == 0) t = 0;
          v = n == 0 ? t : v + t;
        }
        dst[32 * w + c] = v;
      }
#endif
    }
  }
}

// ---- depthwise conv: acc = Σ over valid taps, in tap order, of w·x (fused) ----
// Fused = false: multiply, then add (separableBinarise binarises the depthwise output directly, so
// every engine computes it unfused, as kernels.wasm and the reference do, to take the same signs).

#if BLU_AVX512
template <bool Fused> inline __m512 dwMadd(__m512 w, __m512 x, __m512 acc) {
  return Fused ? _mm512_fmadd_ps(w, x, acc) : _mm512_add_ps(acc, _mm512_mul_ps(w, x));
}
#endif
#if BLU_AVX2
template <bool Fused> inline __m256 dwMadd(__m256 w, __m256 x, __m256 acc) {
  return Fused ? _mm256_fmadd_ps(w, x, acc) : _mm256_add_ps(acc, _mm256_mul_ps(w, x));
}
template <bool Fused> inline __m128 dwMadd(__m128 w, __m128 x, __m128 acc) {
  return Fused ? _mm_fmadd_ps(w, x, acc) : _mm_add_ps(acc, _mm_mul_ps(w, x));
}
#endif

// The depthwise rows' input: every input row exists and holds a zero pixel before its first and
// after its last (SeparableRing keeps a zero row for the rows outside the image, and zero halos).
// A tap outside the image then adds w·0 = ±0, which leaves each sum exactly as a loop over the
// taps inside would leave it (finite weights; the sum starts at +0, and +0 + −0 = +0), so the 2×2
// and 3×3 kernels need no border cases. Input rows, output rows and weights are laid out `stride`
// floats per pixel and per tap (depthwiseStride).

/**
 * Floats per pixel of the depthwise rows (input and output) and per tap of its weights: cinPad, or
 * a cache line more at 256·n channels. At 1–4 KiB strides a block's input taps, its 9 weight
 * vectors and its 16 stores each fall into one or two L1 sets (at 1024 channels, hot rows: 53–68
 * against 70–97 G/s at 1008, `npm run bench:depthwise`).
 */
inline int depthwiseStride(int cinPad) { return cinPad % 256 == 0 ? cinPad + 16 : cinPad; }

/**
 * Output pixel x of a k×k depthwise row (k ≤ 3, rows as above), one sum over its k² taps: the
 * portable path; + bias[c] when not null. With up = 1 the rows are those of the input's nearest ×2
 * upsample, and its column X is the rows' pixel X >> 1 (−1 >> 1 is the zero pixel before).
 */
template <bool Fused> void depthwisePixel(float* const* rows, int stride, int k, int up, int x, int cinPad, const float* weights, const float* bias, float* out) {
  const int before = (k - 1) >> 1;
  const float* in[9];
  const float* wt[9];
  int nt = 0;
  for (int ty = 0; ty < k; ty++)
    for (int tx = 0; tx < k; tx++, nt++) {
      in[nt] = rows[ty] + (ptrdiff_t)((x + tx - before) >> up) * stride;
      wt[nt] = weights + (size_t)(ty * k + tx) * stride;
    }
  float* dst = out + (size_t)x * stride;
#if BLU_AVX512
  for (int c = 0; c < cinPad; c += 16) {
    const __mmask16 keep = firstLanes16(cinPad - c);
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < nt; i++) acc = dwMadd<Fused>(_mm512_maskz_loadu_ps(keep, wt[i] + c), _mm512_maskz_loadu_ps(keep, in[i] + c), acc);
    if (bias) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(keep, bias + c));
    _mm512_mask_storeu_ps(dst + c, keep, acc);
  }
#elif BLU_AVX2
  int c = 0;
  for (; c + 8 <= cinPad; c += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nt; i++) acc = dwMadd<Fused>(_mm256_loadu_ps(wt[i] + c), _mm256_loadu_ps(in[i] + c), acc);
    if (bias) acc = _mm256_add_ps(acc, _mm256_loadu_ps(bias + c));
    _mm256_storeu_ps(dst + c, acc);
  }
  for (; c < cinPad; c += 4) {
    __m128 acc = _mm_setzero_ps();
    for (int i = 0; i < nt; i++) acc = dwMadd<Fused>(_mm_loadu_ps(wt[i] + c), _mm_loadu_ps(in[i] + c), acc);
    if (bias) acc = _mm_add_ps(acc, _mm_loadu_ps(bias + c));
    _mm_storeu_ps(dst + c, acc);
  }
#else
  for (int c = 0; c < cinPad; c++) dst[c] = 0;
  for (int i = 0; i < nt; i++) {
    const float* a = in[i];
    const float* b = wt[i];
    for (int c = 0; c < cinPad; c++) dst[c] += b[c] * a[c];
  }
  if (bias)
    for (int c = 0; c < cinPad; c++) dst[c] += bias[c];
#endif
}

/** `count` output rows of `width` pixels, one depthwisePixel each: out[o] from input rows o…o+k−1. */
template <bool Fused>
void depthwiseEachPixel(float* const* rows, int stride, int k, int up, int count, int width, int cinPad, const float* weights, const float* bias, float* const* out) {
  for (int o = 0; o < count; o++)
    for (int x = 0; x < width; x++) depthwisePixel<Fused>(rows + o, stride, k, up, x, cinPad, weights, bias, out[o]);
}

#if BLU_AVX512
/**
 * Pixels per depthwise block: 8 fused; 4 unfused, where each product needs a register of its own
 * (at 8, GCC spilled the accumulators: 21–23 against 25 thread-ms per pass on `sep_a2w2`).
 */
constexpr int depthwisePixels(bool fused) { return fused ? 8 : 4; }

/**
 * J pixels from x (depthwisePixels), 16 channels from c (masked to keep), of R consecutive output
 * rows (R = 1 or 2) of a K×K depthwise conv: R·J independent chains hide the FMA latency, and each
 * input vector, loaded once, serves the taps of every output row that reads it, so R rows load
 * K + R − 1 input rows instead of R·K (the stage is bound by moving rows from L2, not by the
 * multiply-adds). Each output's sum is 0, then its taps in (ty, tx) order (input rows ascend, so
 * output o meets tap row ty = r − o in order), then the bias when there is one. With Up the rows
 * are a nearest ×2 upsample's (depthwisePixel): for K = 2 and x even, the block's J + 1 input
 * columns are the rows' pixels x/2 … x/2 + J/2, each loaded once.
 */
template <int K, int R, bool Fused, bool Up>
inline void depthwiseBlock(float* const* rows, int stride, int x, int c, __mmask16 keep, int cinPad, const float* weights, const float* bias, float* const* out) {
  constexpr int J = depthwisePixels(Fused), before = (K - 1) / 2, V = Up ? (J + K) / 2 : J + K - 1;
  static_assert(!Up || K == 2, "an upsampled input's columns pair up only when x - before is even");
  __m512 acc[R][J];
#pragma GCC unroll 2
  for (int o = 0; o < R; o++)
#pragma GCC unroll 8
    for (int j = 0; j < J; j++) acc[o][j] = _mm512_setzero_ps();
#pragma GCC unroll 4
  for (int r = 0; r < K + R - 1; r++) {
    const float* in = rows[r] + (ptrdiff_t)((x - before) >> Up) * stride + c;
    __m512 v[V];
#pragma GCC unroll 10
    for (int i = 0; i < V; i++) v[i] = _mm512_maskz_loadu_ps(keep, in + (size_t)i * stride);
#pragma GCC unroll 2
    for (int o = 0; o < R; o++) {
      const int ty = r - o;
      if (ty < 0 || ty >= K) continue;
#pragma GCC unroll 3
      for (int tx = 0; tx < K; tx++) {
        const __m512 w = _mm512_maskz_loadu_ps(keep, weights + (size_t)(ty * K + tx) * stride + c);
#pragma GCC unroll 8
        for (int j = 0; j < J; j++) acc[o][j] = dwMadd<Fused>(w, v[Up ? (j + tx) >> 1 : j + tx], acc[o][j]);
      }
    }
  }
  const __m512 b = bias ? _mm512_maskz_loadu_ps(keep, bias + c) : _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int o = 0; o < R; o++)
#pragma GCC unroll 8
    for (int j = 0; j < J; j++) _mm512_mask_storeu_ps(out[o] + (size_t)(x + j) * stride + c, keep, bias ? _mm512_add_ps(acc[o][j], b) : acc[o][j]);
}

/**
 * R consecutive output rows of a K×K depthwise conv, J pixels at a time (depthwisePixels).
 * Channels run inside the pixel block, so the loads walk each pixel's channels in order: channel
 * blocks outside would stride by a whole pixel (4 KiB at 1024 channels), which defeats the
 * prefetchers and aliases in L1 (2–5× slower in deep layers). The last block overlaps the one
 * before it when the width is not a multiple of J (its outputs are recomputed identically); rows
 * under J pixels go one pixel at a time. An upsample's width is even, so with Up every block
 * starts at an even x.
 */
template <int K, int R, bool Fused, bool Up> void depthwiseBlocked(float* const* rows, int stride, int width, int cinPad, const float* weights, const float* bias, float* const* out) {
  constexpr int J = depthwisePixels(Fused);
  if (width < J) return depthwiseEachPixel<Fused>(rows, stride, K, Up, R, width, cinPad, weights, bias, out);
  for (int xb = 0; xb < width; xb += J) {
    const int x = imin(xb, width - J);
    for (int c = 0; c < cinPad; c += 16) depthwiseBlock<K, R, Fused, Up>(rows, stride, x, c, firstLanes16(cinPad - c), cinPad, weights, bias, out);
  }
}
#elif BLU_AVX2
/** As the AVX-512 depthwiseBlocked, one output row after the other: 4 pixels × 8 channels, the K² weight vectors in registers. */
template <int K, int R, bool Fused, bool Up> void depthwiseBlocked(float* const* rows, int stride, int width, int cinPad, const float* weights, const float* bias, float* const* out) {
  constexpr int before = (K - 1) / 2;
  for (int o = 0; o < R; o++) {
    float* const* in = rows + o;
    int c = 0;
    for (; c + 8 <= cinPad; c += 8) {
      __m256 w[K * K];
      for (int t = 0; t < K * K; t++) w[t] = _mm256_loadu_ps(weights + (size_t)t * stride + c);
      int x = 0;
      for (; x + 4 <= width; x += 4) {
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
#pragma GCC unroll 9
        for (int t = 0; t < K * K; t++) {
          const int col = x + t % K - before;
#pragma GCC unroll 4
          for (int j = 0; j < 4; j++) acc[j] = dwMadd<Fused>(w[t], _mm256_loadu_ps(in[t / K] + (ptrdiff_t)((col + j) >> Up) * stride + c), acc[j]);
        }
        for (int j = 0; j < 4; j++) _mm256_storeu_ps(out[o] + (size_t)(x + j) * stride + c, bias ? _mm256_add_ps(acc[j], _mm256_loadu_ps(bias + c)) : acc[j]);
      }
      for (; x < width; x++) {
        __m256 acc = _mm256_setzero_ps();
        for (int t = 0; t < K * K; t++) acc = dwMadd<Fused>(w[t], _mm256_loadu_ps(in[t / K] + (ptrdiff_t)((x + t % K - before) >> Up) * stride + c), acc);
        if (bias) acc = _mm256_add_ps(acc, _mm256_loadu_ps(bias + c));
        _mm256_storeu_ps(out[o] + (size_t)x * stride + c, acc);
      }
    }
    for (; c < cinPad; c += 4) {
      for (int x = 0; x < width; x++) {
        __m128 acc = _mm_setzero_ps();
        for (int t = 0; t < K * K; t++)
          acc = dwMadd<Fused>(_mm_loadu_ps(weights + (size_t)t * stride + c), _mm_loadu_ps(in[t / K] + (ptrdiff_t)((x + t % K - before) >> Up) * stride + c), acc);
        if (bias) acc = _mm_add_ps(acc, _mm_loadu_ps(bias + c));
        _mm_storeu_ps(out[o] + (size_t)x * stride + c, acc);
      }
    }
  }
}
#endif


#if BLU_AVX2
/** depthwiseBlocked for `count` (1 or 2) output rows. */
template <int K, bool Fused, bool Up>
void depthwiseBlockedRows(int count, float* const* rows, int stride, int width, int cinPad, const float* weights, const float* bias, float* const* out) {
  if (count == 2) return depthwiseBlocked<K, 2, Fused, Up>(rows, stride, width, cinPad, weights, bias, out);
  depthwiseBlocked<K, 1, Fused, Up>(rows, stride, width, cinPad, weights, bias, out);
}
#endif

/**
 * `count` (1 or 2) consecutive depthwise output rows: out[o] from input rows o…o+k−1 (k + count − 1
 * rows, laid out as above); + bias[c] after each output's sum when bias is not null. up = 1: the
 * rows and columns are a nearest ×2 upsample's (depthwisePixel), the rows given once per upsampled row.
 */
template <bool Fused>
void depthwiseRows(float* const* rows, int stride, int k, int up, int count, int width, int cinPad, const float* weights, const float* bias, float* const* out) {
#if BLU_AVX2
  if (k == 2 && up) return depthwiseBlockedRows<2, Fused, true>(count, rows, stride, width, cinPad, weights, bias, out);
  if (k == 2) return depthwiseBlockedRows<2, Fused, false>(count, rows, stride, width, cinPad, weights, bias, out);
  if (k == 3 && !up) return depthwiseBlockedRows<3, Fused, false>(count, rows, stride, width, cinPad, weights, bias, out);
#endif
  depthwiseEachPixel<Fused>(rows, stride, k, up, count, width, cinPad, weights, bias, out);
}

// ---- pointwise GEMM: out[x][f] = bias[f] + Σ_c a[x][c]·b[c][f], c in order ----
// a has aStride floats per pixel (depthwiseStride); b is in panels of `strip` filters ([cinPad][strip]
// at b + f·cinPad; the last strip narrower).

void gemmStripPortable(const float* a, int aStride, int width, int cinPad, const float* panel, int sw, const float* bias, float* out, int fPad) {
  for (int x = 0; x < width; x++) {
    float acc[16];
    for (int j = 0; j < sw; j++) acc[j] = bias[j];
    const float* ax = a + (size_t)x * aStride;
    for (int c = 0; c < cinPad; c++) {
      const float v = ax[c];
      const float* w = panel + (size_t)c * sw;
      for (int j = 0; j < sw; j++) acc[j] += v * w[j];
    }
    for (int j = 0; j < sw; j++) out[(size_t)x * fPad + j] = acc[j];
  }
}

#if BLU_AVX512
// P pixels × S strips of 16 filters, the strips' weights masked to `keep` (the last strip may be 4–12 wide).
template <int P, int S>
__attribute__((always_inline)) inline void gemmTile512(const float* a, int aStride, int cinPad, const float* const* panels, int sw, __mmask16 keep, const float* bias, float* out, int fPad) {
  // Every loop over acc is unrolled: with one that is not, GCC may keep acc in memory and store
  // all of it on every iteration of the channel loop (3× slower, seen when callers changed).
  __m512 acc[P][S];
#pragma GCC unroll 2
  for (int s = 0; s < S; s++) {
    const __m512 b = _mm512_maskz_loadu_ps(keep, bias + 16 * s);
#pragma GCC unroll 16
    for (int i = 0; i < P; i++) acc[i][s] = b;
  }
  for (int c = 0; c < cinPad; c++) {
    __m512 w[S];
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) w[s] = _mm512_maskz_loadu_ps(keep, panels[s] + (size_t)c * sw);
#pragma GCC unroll 16
    for (int i = 0; i < P; i++) {
      const __m512 x = _mm512_set1_ps(a[(size_t)i * aStride + c]);
#pragma GCC unroll 2
      for (int s = 0; s < S; s++) acc[i][s] = _mm512_fmadd_ps(x, w[s], acc[i][s]);
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < P; i++)
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) _mm512_mask_storeu_ps(out + (size_t)i * fPad + 16 * s, keep, acc[i][s]);
}

template <int S>
void gemmStrips512(const float* a, int aStride, int width, int cinPad, const float* const* panels, int sw, const float* bias, float* out, int fPad) {
  const __mmask16 keep = firstLanes16(sw);
  constexpr int P = S == 2 ? 12 : 16;
  int x = 0;
  for (; x + P <= width; x += P) gemmTile512<P, S>(a + (size_t)x * aStride, aStride, cinPad, panels, sw, keep, bias, out + (size_t)x * fPad, fPad);
  for (; x + 4 <= width; x += 4) gemmTile512<4, S>(a + (size_t)x * aStride, aStride, cinPad, panels, sw, keep, bias, out + (size_t)x * fPad, fPad);
  for (; x < width; x++) gemmTile512<1, S>(a + (size_t)x * aStride, aStride, cinPad, panels, sw, keep, bias, out + (size_t)x * fPad, fPad);
}
#elif BLU_AVX2
// P pixels × one full strip of 16 filters (two ymm): 12 accumulators, 2 weights, 1 broadcast.
template <int P>
__attribute__((always_inline)) inline void gemmTile256(const float* a, int aStride, int cinPad, const float* panel, const float* bias, float* out, int fPad) {
  // Every loop over acc is unrolled, as in gemmTile512.
  __m256 acc[P][2];
  const __m256 b0 = _mm256_loadu_ps(bias), b1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 8
  for (int i = 0; i < P; i++) { acc[i][0] = b0; acc[i][1] = b1; }
  for (int c = 0; c < cinPad; c++) {
    const __m256 w0 = _mm256_loadu_ps(panel + (size_t)c * 16), w1 = _mm256_loadu_ps(panel + (size_t)c * 16 + 8);
#pragma GCC unroll 8
    for (int i = 0; i < P; i++) {
      const __m256 x = _mm256_broadcast_ss(a + (size_t)i * aStride + c);
      acc[i][0] = _mm256_fmadd_ps(x, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(x, w1, acc[i][1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < P; i++) {
    _mm256_storeu_ps(out + (size_t)i * fPad, acc[i][0]);
    _mm256_storeu_ps(out + (size_t)i * fPad + 8, acc[i][1]);
  }
}

void gemmStrip256(const float* a, int aStride, int width, int cinPad, const float* panel, const float* bias, float* out, int fPad) {
  int x = 0;
  for (; x + 6 <= width; x += 6) gemmTile256<6>(a + (size_t)x * aStride, aStride, cinPad, panel, bias, out + (size_t)x * fPad, fPad);
  for (; x < width; x++) gemmTile256<1>(a + (size_t)x * aStride, aStride, cinPad, panel, bias, out + (size_t)x * fPad, fPad);
}
#endif

// Not inlined, so that its tiles' register allocation does not depend on the caller's (gemmTile512).
__attribute__((noinline)) void gemmRow(const float* a, int aStride, int width, int cinPad, const float* b, int fPad, const float* bias, float* out) {
  int f = 0;
#if BLU_AVX512
  for (; f + 32 <= fPad; f += 32) {
    const float* panels[2] = {b + (size_t)f * cinPad, b + (size_t)(f + 16) * cinPad};
    gemmStrips512<2>(a, aStride, width, cinPad, panels, 16, bias + f, out + f, fPad);
  }
  for (; f < fPad; f += 16) {
    const int sw = imin(16, fPad - f);
    const float* panels[1] = {b + (size_t)f * cinPad};
    gemmStrips512<1>(a, aStride, width, cinPad, panels, sw, bias + f, out + f, fPad);
  }
#elif BLU_AVX2
  for (; f + 16 <= fPad; f += 16) gemmStrip256(a, aStride, width, cinPad, b + (size_t)f * cinPad, bias + f, out + f, fPad);
#endif
  for (; f < fPad; f += 16) gemmStripPortable(a, aStride, width, cinPad, b + (size_t)f * cinPad, imin(16, fPad - f), bias + f, out + f, fPad);
}

// ---- real-valued first conv (1 input channel): acc over valid taps (fused), then + bias ----

#if BLU_AVX512
/**
 * P interior pixels from x (taps[t][x − x0] is tap t of pixel x) × S strips of 16 filters from f
 * (the last strip masked to `last`): every tap is valid, so each output is 0, then the k² taps in
 * order (fused), then + bias, exactly as the general loop below. Each weight vector serves P
 * pixels and each broadcast S strips.
 */
template <int P, int S>
inline void realConvTile512(const float* const* taps, int k2, int x, int x0, const float* weights, int fPad, int f, __mmask16 last, const float* bias, float* out) {
  __m512 acc[P][S];
#pragma GCC unroll 8
  for (int i = 0; i < P; i++)
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) acc[i][s] = _mm512_setzero_ps();
  for (int t = 0; t < k2; t++) {
    __m512 w[S];
#pragma GCC unroll 2
    for (int s = 0; s < S; s++) w[s] = _mm512_maskz_loadu_ps(s == S - 1 ? last : 0xffff, weights + (size_t)t * fPad + f + 16 * s);
#pragma GCC unroll 8
    for (int i = 0; i < P; i++) {
      const __m512 v = _mm512_set1_ps(taps[t][x - x0 + i]);
#pragma GCC unroll 2
      for (int s = 0; s < S; s++) acc[i][s] = _mm512_fmadd_ps(v, w[s], acc[i][s]);
    }
  }
  for (int i = 0; i < P; i++)
    for (int s = 0; s < S; s++) {
      const __mmask16 keep = s == S - 1 ? last : 0xffff;
      _mm512_mask_storeu_ps(out + (size_t)(x + i) * fPad + f + 16 * s, keep, _mm512_add_ps(acc[i][s], _mm512_maskz_loadu_ps(keep, bias + f + 16 * s)));
    }
}

template <int S> void realConvStrips512(const float* const* taps, int k2, int x0, int x1, const float* weights, int fPad, int f, __mmask16 last, const float* bias, float* out) {
  constexpr int P = 8;
  int x = x0;
  for (; x + P <= x1; x += P) realConvTile512<P, S>(taps, k2, x, x0, weights, fPad, f, last, bias, out);
  for (; x < x1; x++) realConvTile512<1, S>(taps, k2, x, x0, weights, fPad, f, last, bias, out);
}

/** Interior pixels x0…x1−1, every filter; returns the filters done (all of them). */
int realConvInterior(const float* const* taps, int k2, int x0, int x1, const float* weights, int fPad, const float* bias, float* out) {
  int f = 0;
  for (; f + 32 <= fPad; f += 32) realConvStrips512<2>(taps, k2, x0, x1, weights, fPad, f, 0xffff, bias, out);
  if (f < fPad) realConvStrips512<1>(taps, k2, x0, x1, weights, fPad, f, firstLanes16(fPad - f), bias, out);
  return fPad;
}
#elif BLU_AVX2
/** As realConvTile512: P interior pixels × one strip of 16 filters (two ymm). */
template <int P> inline void realConvTile256(const float* const* taps, int k2, int x, int x0, const float* weights, int fPad, int f, const float* bias, float* out) {
  __m256 acc[P][2];
#pragma GCC unroll 6
  for (int i = 0; i < P; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int t = 0; t < k2; t++) {
    const __m256 w0 = _mm256_loadu_ps(weights + (size_t)t * fPad + f), w1 = _mm256_loadu_ps(weights + (size_t)t * fPad + f + 8);
#pragma GCC unroll 6
    for (int i = 0; i < P; i++) {
      const __m256 v = _mm256_broadcast_ss(taps[t] + (x - x0 + i));
      acc[i][0] = _mm256_fmadd_ps(v, w0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(v, w1, acc[i][1]);
    }
  }
  for (int i = 0; i < P; i++) {
    float* dst = out + (size_t)(x + i) * fPad + f;
    _mm256_storeu_ps(dst, _mm256_add_ps(acc[i][0], _mm256_loadu_ps(bias + f)));
    _mm256_storeu_ps(dst + 8, _mm256_add_ps(acc[i][1], _mm256_loadu_ps(bias + f + 8)));
  }
}

/** Interior pixels x0…x1−1, whole strips of 16 filters; returns the filters done (the rest: the general loop). */
int realConvInterior(const float* const* taps, int k2, int x0, int x1, const float* weights, int fPad, const float* bias, float* out) {
  int f = 0;
  for (; f + 16 <= fPad; f += 16) {
    int x = x0;
    for (; x + 6 <= x1; x += 6) realConvTile256<6>(taps, k2, x, x0, weights, fPad, f, bias, out);
    for (; x < x1; x++) realConvTile256<1>(taps, k2, x, x0, weights, fPad, f, bias, out);
  }
  return f;
}
#endif

/** Filters f0… of output pixel x, over its valid taps (the image's border). */
void realConvPixel(const float* image, int height, int width, int y, int x, int k, const float* weights, int fPad, int f0, const float* bias, float* out) {
  const int before = (k - 1) >> 1;
  float value[64];
  const float* wt[64];
  float* dst = out + (size_t)x * fPad;
  // The pixel's valid taps first, so the filter loop has no bounds checks.
  int nt = 0;
  for (int t = 0; t < k * k; t++) {
    const int iy = y + t / k - before;
    const int ix = x + t % k - before;
    if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
    value[nt] = image[(size_t)iy * width + ix];
    wt[nt++] = weights + (size_t)t * fPad;
  }
#if BLU_AVX512
  for (int f = f0; f < fPad; f += 16) {
    const __mmask16 keep = firstLanes16(fPad - f);
    __m512 acc = _mm512_setzero_ps();
    for (int i = 0; i < nt; i++) acc = _mm512_fmadd_ps(_mm512_set1_ps(value[i]), _mm512_maskz_loadu_ps(keep, wt[i] + f), acc);
    _mm512_mask_storeu_ps(dst + f, keep, _mm512_add_ps(acc, _mm512_maskz_loadu_ps(keep, bias + f)));
  }
#elif BLU_AVX2
  int f = f0;
  for (; f + 8 <= fPad; f += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int i = 0; i < nt; i++) acc = _mm256_fmadd_ps(_mm256_set1_ps(value[i]), _mm256_loadu_ps(wt[i] + f), acc);
    _mm256_storeu_ps(dst + f, _mm256_add_ps(acc, _mm256_loadu_ps(bias + f)));
  }
  for (; f < fPad; f += 4) {
    __m128 acc = _mm_setzero_ps();
    for (int i = 0; i < nt; i++) acc = _mm_fmadd_ps(_mm_set1_ps(value[i]), _mm_loadu_ps(wt[i] + f), acc);
    _mm_storeu_ps(dst + f, _mm_add_ps(acc, _mm_loadu_ps(bias + f)));
  }
#else
  for (int f = f0; f < fPad; f++) dst[f] = 0;
  for (int i = 0; i < nt; i++)
    for (int f = f0; f < fPad; f++) dst[f] += value[i] * wt[i][f];
  for (int f = f0; f < fPad; f++) dst[f] += bias[f];
#endif
}

void realConvRow(const float* image, int height, int width, int y, int k, const float* weights, int fPad, const float* bias, float* out) {
  const int before = (k - 1) >> 1, after = k - 1 - before;
  // Interior: all k² taps inside the image (the vector tiles take those pixels' whole filter strips).
  int x0 = width, x1 = width, done = 0;
#if BLU_AVX2
  if (y - before >= 0 && y + after < height && width > k - 1 && k <= 8) {
    const float* taps[64];
    // taps[t][j]: tap t of output pixel x0 + j.
    for (int t = 0; t < k * k; t++) taps[t] = image + (size_t)(y + t / k - before) * width + t % k;
    x0 = before;
    x1 = width - after;
    done = realConvInterior(taps, k * k, x0, x1, weights, fPad, bias, out);
  }
#endif
  for (int x = 0; x < width; x++) {
    const int from = x >= x0 && x < x1 ? done : 0;
    if (from < fPad) realConvPixel(image, height, width, y, x, k, weights, fPad, from, bias, out);
  }
}

// ---- residual binarisation of one row: r ← r − |γ_n|·sign(r) per level (exact: s ∈ {−1, 0, 1}) ----

int binariseRow(float* y, int width, int fPad, int channels, const float* gammas, int levels, u32* signs, u32* nonzero,
                int pixels, int words, int pixelStart, float deadZone) {
  int zeros = 0;
  const bool exact = deadZone == 0;
  for (int x = 0; x < width; x++) {
    for (int w = 0; w < words; w++) {
      const int lanes = imin(32, channels - 32 * w);
      const u32 mask = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
      float* residual = y + (size_t)x * fPad + 32 * w;
      // The residual stays in registers across the levels (the row is scratch; nobody reads it after).
#if BLU_AVX512
      const int vecs = (lanes + 15) / 16;
      const __m512 above = _mm512_set1_ps(exact ? 0.0f : deadZone);
      const __m512 below = _mm512_set1_ps(exact ? 0.0f : -deadZone);
      __m512 r[2];
      for (int v = 0; v < vecs; v++) r[v] = _mm512_maskz_loadu_ps(firstLanes16(lanes - 16 * v), residual + 16 * v);
#elif BLU_AVX2
      const int vecs = (lanes + 7) / 8;
      const __m256 above = _mm256_set1_ps(exact ? 0.0f : deadZone);
      const __m256 below = _mm256_set1_ps(exact ? 0.0f : -deadZone);
      __m256 r[4];
      for (int v = 0; v < vecs; v++) {
        const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i keep = _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes - 8 * v), lane);
        r[v] = _mm256_maskload_ps(residual + 8 * v, keep);
      }
#endif
      for (int n = 0; n < levels; n++) {
        const float g = gammas[n];
        u32 plusBits = 0, nonzeroBits = 0;
#if BLU_AVX512
        const __m512 gv = _mm512_set1_ps(g);
        for (int v = 0; v < vecs; v++) {
          const __mmask16 pos = exact ? _mm512_cmp_ps_mask(r[v], above, _CMP_GT_OQ) : _mm512_cmp_ps_mask(r[v], above, _CMP_GE_OQ);
          const __mmask16 neg = exact ? _mm512_cmp_ps_mask(r[v], below, _CMP_LT_OQ) : _mm512_cmp_ps_mask(r[v], below, _CMP_LE_OQ);
          const __m512 s = _mm512_mask_blend_ps(pos, _mm512_maskz_mov_ps(neg, _mm512_set1_ps(-1.0f)), _mm512_set1_ps(1.0f));
          r[v] = _mm512_sub_ps(r[v], _mm512_mul_ps(gv, s));
          plusBits |= (u32)pos << (16 * v);
          nonzeroBits |= (u32)(pos | neg) << (16 * v);
        }
#elif BLU_AVX2
        const __m256 gv = _mm256_set1_ps(g);
        for (int v = 0; v < vecs; v++) {
          const __m256 pos = exact ? _mm256_cmp_ps(r[v], above, _CMP_GT_OQ) : _mm256_cmp_ps(r[v], above, _CMP_GE_OQ);
          const __m256 neg = exact ? _mm256_cmp_ps(r[v], below, _CMP_LT_OQ) : _mm256_cmp_ps(r[v], below, _CMP_LE_OQ);
          const __m256 s = _mm256_or_ps(_mm256_and_ps(pos, _mm256_set1_ps(1.0f)), _mm256_and_ps(neg, _mm256_set1_ps(-1.0f)));
          r[v] = _mm256_sub_ps(r[v], _mm256_mul_ps(gv, s));
          plusBits |= (u32)_mm256_movemask_ps(pos) << (8 * v);
          nonzeroBits |= (u32)_mm256_movemask_ps(_mm256_or_ps(pos, neg)) << (8 * v);
        }
#else
        for (int c = 0; c < lanes; c++) {
          const float r = residual[c];
          const bool pos = exact ? r > 0 : r >= deadZone;
          const bool neg = exact ? r < 0 : r <= -deadZone;
          const float s = pos ? 1.0f : neg ? -1.0f : 0.0f;
          residual[c] = r - g * s;
          plusBits |= (u32)pos << c;
          nonzeroBits |= (u32)(pos || neg) << c;
        }
#endif
        const size_t word = ((size_t)(n * pixels + pixelStart + x)) * words + w;
        signs[word] = plusBits & mask;
        nonzero[word] = nonzeroBits & mask;
        zeros += popcount32(~nonzeroBits & mask);
      }
    }
  }
  return zeros;
}

struct Binariser {
  int32_t signs, nonzero, pixels, words, channels, gammas, levels;
  float deadZone;
};

inline int binariseWith(uint8_t* base, const Binariser* b, float* row, int y, int width, int fPad) {
  return binariseRow(row, width, fPad, b->channels, (const float*)(base + b->gammas), b->levels, (u32*)(base + b->signs),
                     (u32*)(base + b->nonzero), b->pixels, b->words, y * width, b->deadZone);
}

// ---- XNOR-popcount conv ----

struct XnorConv {
  const u32* act;
  int pixels, height, width, words, aLevels, cin;
  const u64* weights;  // [m][f][units]
  const int32_t* tapPop;  // [m][f][tap]
  int wLevels, filters, fPad, k, units;
  const float* coef;
  const float* bias;
};

/** Copies n 32-bit words: the rows of a patch, k·words long (6 at 3×3 and 64 channels). */
inline void copyWords(u32* to, const u32* from, int n) {
#if BLU_AVX512
  for (; n >= 16; n -= 16, to += 16, from += 16) _mm512_storeu_si512(to, _mm512_loadu_si512(from));
  const __mmask16 rest = (__mmask16)((1u << n) - 1);  // masked lanes are neither read nor written
  _mm512_mask_storeu_epi32(to, rest, _mm512_maskz_loadu_epi32(rest, from));
#else
  for (int i = 0; i < n; i++) to[i] = from[i];
#endif
}

/** Gathers pixel (x, y)'s k·k taps of every level of `act` (c.act: the signs) into patch [n][units] (0 outside); returns the valid taps. */
inline int gatherPatch(const XnorConv& c, int x, int y, u64* patch, const u32* act = nullptr) {
  if (!act) act = c.act;
  const int before = (c.k - 1) >> 1;
  const int taps = c.k * c.k;
  int valid = 0;
  u32* words = (u32*)patch;
  for (int n = 0; n < c.aLevels; n++) patch[(size_t)n * c.units + c.units - 1] = 0;
  if (x >= before && x - before + c.k <= c.width && y >= before && y - before + c.k <= c.height) {
    // Inside the image: the k taps of a tap row are k neighbouring pixels, one run of k·words words.
    for (int n = 0; n < c.aLevels; n++) {
      const u32* from = act + ((size_t)n * c.pixels + (size_t)(y - before) * c.width + (x - before)) * c.words;
      for (int ty = 0; ty < c.k; ty++)
        copyWords(words + (size_t)n * c.units * 2 + (size_t)ty * c.k * c.words, from + (size_t)ty * c.width * c.words, c.k * c.words);
    }
    return taps;
  }
  for (int t = 0; t < taps; t++) {
    const int iy = y + t / c.k - before;
    const int ix = x + t % c.k - before;
    const bool inside = iy >= 0 && iy < c.height && ix >= 0 && ix < c.width;
    valid += inside;
    for (int n = 0; n < c.aLevels; n++) {
      u32* to = words + (size_t)n * c.units * 2 + t * c.words;
      if (!inside) {
        for (int w = 0; w < c.words; w++) to[w] = 0;
        continue;
      }
      const u32* from = act + ((size_t)(n * c.pixels) + (size_t)iy * c.width + ix) * c.words;
      for (int w = 0; w < c.words; w++) to[w] = from[w];
    }
  }
  return valid;
}

/** Calls visit(t) for each tap t of pixel (x, y) outside the image, in tap order. */
template <typename Visit> inline void forEachOutsideTap(const XnorConv& c, int x, int y, Visit&& visit) {
  const int before = (c.k - 1) >> 1;
  const int taps = c.k * c.k;
  for (int t = 0; t < taps; t++) {
    const int iy = y + t / c.k - before;
    const int ix = x + t % c.k - before;
    if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) visit(t);
  }
}

/** The taps of pixel (x, y) outside the image, in tap order, into list; returns how many. */
inline int outsideTapsOf(const XnorConv& c, int x, int y, int* list) {
  int n = 0;
  forEachOutsideTap(c, x, y, [&](int t) { list[n++] = t; });
  return n;
}

/** popcount(weight) summed over pixel (x, y)'s taps outside the image, for weight level m, filter f. */
inline int outsidePop(const XnorConv& c, int x, int y, int m, int f) {
  const int32_t* pop = c.tapPop + (size_t)(m * c.filters + f) * c.k * c.k;
  int outside = 0;
  forEachOutsideTap(c, x, y, [&](int t) { outside += pop[t]; });
  return outside;
}

/** One output row, scalar popcounts (as the wasm kernel): out[x][f] = bias + Σ_m Σ_n coef·(valid·cin − 2·(pop − outside)). */
void binaryConvRowScalar(const XnorConv& c, int y, u64* patch, float* out) {
  const int taps = c.k * c.k;
  for (int x = 0; x < c.width; x++) {
    const int valid = gatherPatch(c, x, y, patch);
    float* dst = out + (size_t)x * c.fPad;
    for (int f = 0; f < c.filters; f++) {
      float acc = c.bias[f];
      for (int m = 0; m < c.wLevels; m++) {
        const u64* w = c.weights + (size_t)(m * c.filters + f) * c.units;
        const int outside = valid < taps ? outsidePop(c, x, y, m, f) : 0;
        const float* coef = c.coef + m * c.aLevels;
        for (int n = 0; n < c.aLevels; n++) {
          const u64* p = patch + (size_t)n * c.units;
          int total = 0;
          for (int u = 0; u < c.units; u++) total += popcount64(w[u] ^ p[u]);
          acc += coef[n] * (float)(valid * c.cin - 2 * (total - outside));
        }
      }
      dst[f] = acc;
    }
  }
}

#if BLU_AVX2
/** One row's patches, pixel x's level n at patch + x·pixelWords + n·levelWords (32-bit words), and each pixel's taps outside the image. */
struct RowPatches {
  const u64* patch;
  const int* valid;  // [x]
  const int* outside;  // [x][taps]: the outside taps of pixel x, valid[x] < taps only
  size_t pixelWords, levelWords;
};

/** Lane-sized words per pixel and level: c.units 64-bit units, each 64 / bits(Lane) of them. */
template <typename Lane> inline int lanesOf(const XnorConv& c) { return c.units * (int)(sizeof(u64) / sizeof(Lane)); }

/**
 * Whether the tiled kernels take the conv: at most 3 levels each, and a patch below 2^23 bits, so
 * that the tiles' float epilogue is exact (every count below 2^24).
 */
inline bool tileable(const XnorConv& c) { return c.aLevels <= 3 && c.wLevels <= 3 && c.k * c.k * c.cin < (1 << 23); }

/**
 * Row y's patches, gathered once ([x][n][units], gatherPatch; the tiles walk them once per filter
 * block). A 1×1 conv on whole 64-bit units reads the activation planes in place: there a pixel's
 * patch is its own words.
 */
inline RowPatches gatherRow(const XnorConv& c, int y, u64* patches, int* valid, int* outside) {
  const int taps = c.k * c.k;
  if (c.k == 1 && c.words % 2 == 0) {
    for (int x = 0; x < c.width; x++) valid[x] = 1;
    return RowPatches{(const u64*)(c.act + (size_t)y * c.width * c.words), valid, outside, (size_t)c.words, (size_t)c.pixels * c.words};
  }
  for (int x = 0; x < c.width; x++) {
    valid[x] = gatherPatch(c, x, y, patches + (size_t)x * c.aLevels * c.units);
    if (valid[x] < taps) outsideTapsOf(c, x, y, outside + (size_t)x * taps);
  }
  return RowPatches{patches, valid, outside, (size_t)c.aLevels * c.units * 2, (size_t)c.units * 2};
}
#endif

#if BLU_AVX512
inline void storeFilters(float* dst, int f, int filters, __m256 acc) {
  const int keep = imin(8, filters - f);
  if (keep > 0) _mm256_mask_storeu_ps(dst + f, (__mmask8)((1u << keep) - 1), acc);
}

/**
 * The XNOR tile's operations on AVX-512 (xnorTile): 32-bit lanes, 16 filters per zmm. VPOPCNTD
 * counts each lane, so the counts need no widening (CHUNK 0). 32-bit lanes do the same bits per
 * instruction as 64-bit ones, but the float epilogue then converts and sums 16 outputs per
 * instruction instead of 8, which halves what dominates the narrow layers (a 64-channel 1×1 conv
 * has one 64-bit unit per output).
 */
struct TileOps {
  typedef u32 Lane;
  typedef __m512i Count;
  typedef __m512 Floats;
  static constexpr int FILTERS = 16;  // per vector
  static constexpr int PAD = 16;      // filters are padded to a multiple of this
  static constexpr int CHUNK = 0;  // lanes counted before widening: 0, the counts are the totals
  static Count broadcast(Lane word) { return _mm512_set1_epi32((int)word); }
  static Count count(Count acc, const Lane* weights, Count patch) {
    return _mm512_add_epi32(acc, _mm512_popcnt_epi32(_mm512_xor_si512(_mm512_loadu_si512(weights), patch)));
  }
  static Floats load(const float* p) { return _mm512_loadu_ps(p); }
  /** valid·cin + 2·Σ over the outside taps of popcount(weight), for the filters from tapPop (fp apart per tap). */
  static Floats base(int validCin, const int32_t* tapPop, size_t fp, const int* outsideTaps, int nOut) {
    if (nOut == 0) return _mm512_set1_ps((float)validCin);
    __m512i outside = _mm512_setzero_si512();
    for (int i = 0; i < nOut; i++) outside = _mm512_add_epi32(outside, _mm512_loadu_si512(tapPop + outsideTaps[i] * fp));
    return _mm512_cvtepi32_ps(_mm512_add_epi32(_mm512_set1_epi32(validCin), _mm512_slli_epi32(outside, 1)));
  }
  /** acc + coef·(base − 2·count): exact, as every term is an integer below 2^24. */
  static Floats term(Floats acc, Count count, Floats base, float coef) {
    return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(coef), _mm512_fnmadd_ps(_mm512_set1_ps(2.0f), _mm512_cvtepi32_ps(count), base)));
  }
  static void store(float* dst, int keep, Floats acc) { _mm512_mask_storeu_ps(dst, (__mmask16)((1u << keep) - 1), acc); }
};

/** Tile shapes [A][M]: P pixels × FB filter vectors; P·A·M·FB ≤ 18 accumulators plus M·FB weights fit the 32 zmm. */
constexpr int TILE_PIXELS[4][4] = {{}, {0, 8, 4, 3}, {0, 4, 2, 3}, {0, 3, 3, 2}};
constexpr int TILE_VECTORS[4][4] = {{}, {0, 2, 2, 2}, {0, 2, 2, 1}, {0, 2, 1, 1}};

/**
 * The masked XNOR conv (operands with exact-zero signs), 8 filters × 1 pixel per tile: per unit,
 * mask = weight nonzero & activation nonzero, and two counts, popcount((w ^ a) & mask) (one
 * VPTERNLOGQ) and popcount(mask), so dot = count − 2·pop is exact for any zeros, as in the scalar
 * kernel; taps outside the image have zero activation masks. Per output: bias, then m, then n.
 */
template <int A, int M>
inline void xnorTileMasked(const XnorConv& c, const u64* patch, const u64* patchNz, int x, int f, int f8, const u64* wt, const u64* wnzT,
                           const float* bias8, float* out) {
  __m512i pop[A][M], cnt[A][M];
#pragma GCC unroll 3
  for (int n = 0; n < A; n++)
#pragma GCC unroll 3
    for (int m = 0; m < M; m++) pop[n][m] = cnt[n][m] = _mm512_setzero_si512();
  const size_t levelStride = (size_t)c.units * f8;
  for (int u = 0; u < c.units; u++) {
    __m512i wv[M], wn[M];
#pragma GCC unroll 3
    for (int m = 0; m < M; m++) {
      wv[m] = _mm512_loadu_si512(wt + m * levelStride + (size_t)u * f8 + f);
      wn[m] = _mm512_loadu_si512(wnzT + m * levelStride + (size_t)u * f8 + f);
    }
#pragma GCC unroll 3
    for (int n = 0; n < A; n++) {
      const __m512i pv = _mm512_set1_epi64((long long)patch[(size_t)n * c.units + u]);
      const __m512i pn = _mm512_set1_epi64((long long)patchNz[(size_t)n * c.units + u]);
#pragma GCC unroll 3
      for (int m = 0; m < M; m++) {
        const __m512i mask = _mm512_and_si512(wn[m], pn);
        pop[n][m] = _mm512_add_epi64(pop[n][m], _mm512_popcnt_epi64(_mm512_ternarylogic_epi64(wv[m], pv, mask, 0x28)));  // (a ^ b) & c
        cnt[n][m] = _mm512_add_epi64(cnt[n][m], _mm512_popcnt_epi64(mask));
      }
    }
  }
  __m256 acc = _mm256_loadu_ps(bias8 + f);
#pragma GCC unroll 3
  for (int m = 0; m < M; m++)
#pragma GCC unroll 3
    for (int n = 0; n < A; n++) {
      // count − 2·pop: integers below 2^24, so the fused form is the exact difference.
      const __m256 d = _mm256_fnmadd_ps(_mm256_set1_ps(2.0f), _mm512_cvtepi64_ps(pop[n][m]), _mm512_cvtepi64_ps(cnt[n][m]));
      acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(c.coef[m * A + n]), d));
    }
  storeFilters(out + (size_t)x * c.fPad, f, c.filters, acc);
}

template <int A, int M>
void xnorRowMaskedTiled(const XnorConv& c, const u64* patches, const u64* patchesNz, int f8, const u64* wt, const u64* wnzT, const float* bias8, float* out) {
  const size_t pixelStride = (size_t)A * c.units;
  for (int f = 0; f < f8; f += 8)
    for (int x = 0; x < c.width; x++)
      xnorTileMasked<A, M>(c, patches + x * pixelStride, patchesNz + x * pixelStride, x, f, f8, wt, wnzT, bias8, out);
}

/** One output row of the masked conv; false (the caller takes the scalar kernel) as binaryConvRowTiled. */
bool binaryConvRowMasked512(const XnorConv& c, const u32* actNonzero, int y, u64* patches, u64* patchesNz, const u64* wt, const u64* wnzT,
                            const float* bias8, float* out) {
  if (!tileable(c)) return false;
  const size_t pixelStride = (size_t)c.aLevels * c.units;
  for (int x = 0; x < c.width; x++) {
    gatherPatch(c, x, y, patches + x * pixelStride);
    gatherPatch(c, x, y, patchesNz + x * pixelStride, actNonzero);
  }
  const int f8 = pad8(c.filters);
  switch (c.aLevels * 4 + c.wLevels) {
    case 3 * 4 + 3: xnorRowMaskedTiled<3, 3>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 3 * 4 + 2: xnorRowMaskedTiled<3, 2>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 3 * 4 + 1: xnorRowMaskedTiled<3, 1>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 2 * 4 + 3: xnorRowMaskedTiled<2, 3>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 2 * 4 + 2: xnorRowMaskedTiled<2, 2>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 2 * 4 + 1: xnorRowMaskedTiled<2, 1>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 1 * 4 + 3: xnorRowMaskedTiled<1, 3>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    case 1 * 4 + 2: xnorRowMaskedTiled<1, 2>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
    default: xnorRowMaskedTiled<1, 1>(c, patches, patchesNz, f8, wt, wnzT, bias8, out); break;
  }
  return true;
}

#elif BLU_AVX2
// AVX2 has no vector popcount. Each byte's count is looked up per nibble (VPSHUFB on a 16-entry
// table) and summed in byte lanes for up to 31 units (a byte counts at most 8 per unit), then
// VPSADBW adds each lane's 8 bytes into its filter's 64-bit count: per 256 bits, 8 vector ops
// against 12 scalar ones (XOR, POPCNT, add per 64 bits); on this EPYC the register-only loops of
// the two mixes (peakXnor) count 1.6× as many bits per second this way.

/** Units summed in byte lanes before they are widened: 31 · 8 ≤ 255. */
constexpr int BYTE_UNITS = 31;

/** Per byte of v, its popcount. */
inline __m256i popcountBytes(__m256i v, __m256i table, __m256i lowNibbles) {
  const __m256i lo = _mm256_and_si256(v, lowNibbles);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), lowNibbles);
  return _mm256_add_epi8(_mm256_shuffle_epi8(table, lo), _mm256_shuffle_epi8(table, hi));
}

inline __m256i nibbleCounts() { return _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4, 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4); }

/** The XNOR tile's operations on AVX2 (xnorTile): 64-bit units, 4 filters per ymm, counted in byte lanes BYTE_UNITS units at a time. */
struct TileOps {
  typedef u64 Lane;
  typedef __m256i Count;
  typedef __m128 Floats;
  static constexpr int FILTERS = 4;
  static constexpr int PAD = 8;
  static constexpr int CHUNK = BYTE_UNITS;
  static Count broadcast(Lane unit) { return _mm256_set1_epi64x((long long)unit); }
  /** acc's bytes + the popcounts of the bytes of weights ^ patch. */
  static Count count(Count acc, const Lane* weights, Count patch) {
    return _mm256_add_epi8(acc, popcountBytes(_mm256_xor_si256(_mm256_loadu_si256((const __m256i*)weights), patch), nibbleCounts(), _mm256_set1_epi8(0x0f)));
  }
  /** Each 64-bit lane of total + the sum of its 8 bytes in part. */
  static Count widen(Count total, Count part) { return _mm256_add_epi64(total, _mm256_sad_epu8(part, _mm256_setzero_si256())); }
  static Floats load(const float* p) { return _mm_loadu_ps(p); }
  static Floats base(int validCin, const int32_t* tapPop, size_t fp, const int* outsideTaps, int nOut) {
    if (nOut == 0) return _mm_set1_ps((float)validCin);
    __m128i outside = _mm_setzero_si128();
    for (int i = 0; i < nOut; i++) outside = _mm_add_epi32(outside, _mm_loadu_si128((const __m128i*)(tapPop + outsideTaps[i] * fp)));
    return _mm_cvtepi32_ps(_mm_add_epi32(_mm_set1_epi32(validCin), _mm_slli_epi32(outside, 1)));
  }
  /** acc + coef·(base − 2·count), the count being the low 32 bits of each 64-bit lane (below 2^23). */
  static Floats term(Floats acc, Count count, Floats base, float coef) {
    const __m128 counts = _mm_cvtepi32_ps(_mm256_castsi256_si128(_mm256_permutevar8x32_epi32(count, _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0))));
    return _mm_add_ps(acc, _mm_mul_ps(_mm_set1_ps(coef), _mm_fnmadd_ps(_mm_set1_ps(2.0f), counts, base)));
  }
  static void store(float* dst, int keep, Floats acc) {
    if (keep >= 4) _mm_storeu_ps(dst, acc);
    else _mm_maskstore_ps(dst, _mm_cmpgt_epi32(_mm_set1_epi32(keep), _mm_setr_epi32(0, 1, 2, 3)), acc);
  }
};

/** Tile shapes [A][M]: at most 9 byte accumulators (P·A·M·FB) beside the table, the mask and temporaries in the 16 ymm. */
constexpr int TILE_PIXELS[4][4] = {{}, {0, 4, 2, 2}, {0, 2, 2, 1}, {0, 1, 1, 1}};
constexpr int TILE_VECTORS[4][4] = {{}, {0, 2, 2, 1}, {0, 2, 1, 1}, {0, 2, 1, 1}};
#endif

#if BLU_AVX2
/**
 * P pixels from x × A activation levels × M weight levels × FB vectors of TileOps::FILTERS filters
 * from f, in registers: per weight lane, M·FB weight vectors serve the P·A broadcast patch lanes,
 * so a weight load feeds P·A XOR-popcount-adds and a broadcast M·FB of them. The counts of
 * TileOps::CHUNK lanes at a time are widened into the totals (AVX2 counts in byte lanes). The row
 * loop keeps a filter block's weights hot in L1 while it walks the row's pixels. Per output, the
 * sum order is the scalar kernel's (bias, m, n).
 */
template <int P, int A, int M, int FB>
__attribute__((always_inline)) inline void countLanes(TileOps::Count (&acc)[P][A][M][FB], const TileOps::Lane* patch, const TileOps::Lane* w,
                                                      size_t pixelStride, size_t patchLevelStride, size_t levelStride, int fp, int l0, int l1) {
  for (int l = l0; l < l1; l++) {
    #pragma GCC unroll 8
    for (int p = 0; p < P; p++)
      #pragma GCC unroll 8
      for (int n = 0; n < A; n++) {
        const TileOps::Count pv = TileOps::broadcast(patch[p * pixelStride + (size_t)n * patchLevelStride + l]);
        #pragma GCC unroll 8
        for (int m = 0; m < M; m++)
          #pragma GCC unroll 8
          for (int b = 0; b < FB; b++) acc[p][n][m][b] = TileOps::count(acc[p][n][m][b], w + m * levelStride + (size_t)l * fp + TileOps::FILTERS * b, pv);
      }
  }
}

/** countLanes TileOps::CHUNK lanes at a time into a second set of accumulators, each chunk widened into the totals. */
template <class Ops, int P, int A, int M, int FB>  // Ops: TileOps, a parameter so that widen is looked up only where it exists
__attribute__((always_inline)) inline void countChunked(typename Ops::Count (&total)[P][A][M][FB], const typename Ops::Lane* patch,
                                                        const typename Ops::Lane* w, size_t pixelStride, size_t patchLevelStride, size_t levelStride,
                                                        int lanes, int fp) {
  for (int l0 = 0; l0 < lanes; l0 += Ops::CHUNK) {
    typename Ops::Count part[P][A][M][FB] = {};
    countLanes(part, patch, w, pixelStride, patchLevelStride, levelStride, fp, l0, imin(lanes, l0 + Ops::CHUNK));
    #pragma GCC unroll 8
    for (int p = 0; p < P; p++)
      #pragma GCC unroll 8
      for (int n = 0; n < A; n++)
        #pragma GCC unroll 8
        for (int m = 0; m < M; m++)
          #pragma GCC unroll 8
          for (int b = 0; b < FB; b++) total[p][n][m][b] = Ops::widen(total[p][n][m][b], part[p][n][m][b]);
  }
}

template <int P, int A, int M, int FB>
inline void xnorTile(const XnorConv& c, const RowPatches& row, int x, int f, int fp, int taps, const TileOps::Lane* wt, const int32_t* tapPopT,
                     const float* biasPadded, float* out) {
  typedef TileOps::Lane Lane;
  TileOps::Count t[P][A][M][FB] = {};  // vector types value-initialise to zero
  const int lanes = lanesOf<Lane>(c);
  const size_t levelStride = (size_t)lanes * fp;
  constexpr size_t wordsPerLane = sizeof(Lane) / sizeof(u32);
  const size_t pixelStride = row.pixelWords / wordsPerLane, patchLevelStride = row.levelWords / wordsPerLane;
  const Lane* patch = (const Lane*)row.patch + (size_t)x * pixelStride;
  const Lane* w = wt + f;
  if constexpr (TileOps::CHUNK == 0) {
    // The counts need no widening: count straight into the totals (a second set of accumulators would not fit the registers).
    countLanes(t, patch, w, pixelStride, patchLevelStride, levelStride, fp, 0, lanes);
  } else {
    countChunked<TileOps>(t, patch, w, pixelStride, patchLevelStride, levelStride, lanes, fp);
  }
  #pragma GCC unroll 8
  for (int p = 0; p < P; p++) {
    const int valid = row.valid[x + p];
    const int nOut = taps - valid;
    const int* outsideTaps = row.outside + (size_t)(x + p) * taps;
    float* dst = out + (size_t)(x + p) * c.fPad;
    #pragma GCC unroll 8
    for (int b = 0; b < FB; b++) {
      const int first = f + TileOps::FILTERS * b;
      TileOps::Floats acc = TileOps::load(biasPadded + first);
      #pragma GCC unroll 8
      for (int m = 0; m < M; m++) {
        // valid·cin − 2·(pop − outside) = base − 2·pop with base = valid·cin + 2·outside.
        const TileOps::Floats base = TileOps::base(valid * c.cin, tapPopT + (size_t)m * taps * fp + first, fp, outsideTaps, nOut);
        #pragma GCC unroll 8
        for (int n = 0; n < A; n++) acc = TileOps::term(acc, t[p][n][m][b], base, c.coef[m * A + n]);
      }
      const int keep = imin(TileOps::FILTERS, c.filters - first);
      if (keep > 0) TileOps::store(dst + first, keep, acc);
    }
  }
}

/** The row in tiles: filter blocks of FB vectors outside, pixels P at a time inside (the rest 1 at a time). */
template <int P, int A, int M, int FB>
void xnorRowTiled(const XnorConv& c, const RowPatches& row, int fp, int taps, const TileOps::Lane* wt, const int32_t* tapPopT, const float* biasPadded,
                  float* out) {
  constexpr int F = TileOps::FILTERS;
  int f = 0;
  for (; f + F * FB <= fp; f += F * FB) {
    int x = 0;
    for (; x + P <= c.width; x += P) xnorTile<P, A, M, FB>(c, row, x, f, fp, taps, wt, tapPopT, biasPadded, out);
    for (; x < c.width; x++) xnorTile<1, A, M, FB>(c, row, x, f, fp, taps, wt, tapPopT, biasPadded, out);
  }
  for (; f < fp; f += F) {
    int x = 0;
    for (; x + P <= c.width; x += P) xnorTile<P, A, M, 1>(c, row, x, f, fp, taps, wt, tapPopT, biasPadded, out);
    for (; x < c.width; x++) xnorTile<1, A, M, 1>(c, row, x, f, fp, taps, wt, tapPopT, biasPadded, out);
  }
}

inline int padFilters(int filters) { return padTo(filters, TileOps::PAD); }

/**
 * One output row in tiles: weights transposed to [m][lane][fp] (transposeXnor), each pixel's taps
 * gathered once per row. Returns false (the caller takes the scalar kernel) unless tileable.
 */
bool binaryConvRowTiled(const XnorConv& c, int y, u64* patches, int* valid, int* outside, const TileOps::Lane* wt, const int32_t* tapPopT,
                        const float* biasPadded, float* out) {
  if (!tileable(c)) return false;
  const int taps = c.k * c.k;
  const int fp = padFilters(c.filters);
  const RowPatches row = gatherRow(c, y, patches, valid, outside);
#define BLU_TILE_CASE(A, M) \
  case A * 4 + M: xnorRowTiled<TILE_PIXELS[A][M], A, M, TILE_VECTORS[A][M]>(c, row, fp, taps, wt, tapPopT, biasPadded, out); break;
  switch (c.aLevels * 4 + c.wLevels) {
    BLU_TILE_CASE(3, 3) BLU_TILE_CASE(3, 2) BLU_TILE_CASE(3, 1)
    BLU_TILE_CASE(2, 3) BLU_TILE_CASE(2, 2) BLU_TILE_CASE(2, 1)
    BLU_TILE_CASE(1, 3) BLU_TILE_CASE(1, 2) BLU_TILE_CASE(1, 1)
  }
#undef BLU_TILE_CASE
  return true;
}

/**
 * Weights [m][f][lanes] → [m][lane][padTo(filters, pad)] (filters past c.filters are 0), on lanes
 * of type Lane: u64 is a unit, u32 half of one (low word first, as the packed words are).
 */
template <typename Lane> void transposeLanes(const XnorConv& c, const u64* from64, Lane* to, int pad) {
  const Lane* from = (const Lane*)from64;
  const int lanes = lanesOf<Lane>(c);
  const int fp = padTo(c.filters, pad);
  for (int m = 0; m < c.wLevels; m++)
    for (int l = 0; l < lanes; l++)
      for (int f = 0; f < fp; f++) to[((size_t)m * lanes + l) * fp + f] = f < c.filters ? from[((size_t)m * c.filters + f) * lanes + l] : 0;
}

/** The bias of `filters` filters, padded with zeros to a multiple of `pad` (the tiles add a vector of filters at a time). */
inline void padBias(const float* bias, int filters, float* biasPadded, int pad) {
  for (int f = 0; f < padTo(filters, pad); f++) biasPadded[f] = f < filters ? bias[f] : 0;
}

/** Per thread, for the tiles: weights → [m][lane][fp] (transposeLanes), tapPop [m][f][t] → [m][t][fp], bias padded to fp. */
template <typename Lane> void transposeXnor(const XnorConv& c, Lane* wt, int32_t* tapPopT, float* biasPadded, int pad) {
  const int fp = padTo(c.filters, pad);
  const int taps = c.k * c.k;
  transposeLanes(c, c.weights, wt, pad);
  for (int m = 0; m < c.wLevels; m++) {
    for (int t = 0; t < taps; t++)
      for (int f = 0; f < fp; f++) tapPopT[((size_t)m * taps + t) * fp + f] = f < c.filters ? c.tapPop[((size_t)m * c.filters + f) * taps + t] : 0;
  }
  padBias(c.bias, c.filters, biasPadded, pad);
}
#endif

XnorConv xnorArgs(const Args& a, int first) {
  // act, pixels, height, width, words, aLevels, cin, weights, tapPop, wLevels, filters, fPad, k, units, coef, bias
  XnorConv c;
  c.act = a.p<u32>(first);
  c.pixels = a.i(first + 1);
  c.height = a.i(first + 2);
  c.width = a.i(first + 3);
  c.words = a.i(first + 4);
  c.aLevels = a.i(first + 5);
  c.cin = a.i(first + 6);
  c.weights = a.p<u64>(first + 7);
  c.tapPop = a.p<int32_t>(first + 8);
  c.wLevels = a.i(first + 9);
  c.filters = a.i(first + 10);
  c.fPad = a.i(first + 11);
  c.k = a.i(first + 12);
  c.units = a.i(first + 13);
  c.coef = a.p<float>(first + 14);
  c.bias = a.p<float>(first + 15);
  return c;
}

// ---- masked XNOR conv (operands with exact-zero signs; rare): scalar ----

int xnorRowsMasked(uint8_t* base, const double* args) {
  const Args a{base, args};
  const u32* act = a.p<u32>(0);
  const u32* actNonzero = a.p<u32>(1);
  const int pixels = a.i(2), height = a.i(3), width = a.i(4), words = a.i(5), aLevels = a.i(6);
  const u64* weights = a.p<u64>(7);
  const u64* weightsNonzero = a.p<u64>(8);
  const int wLevels = a.i(9), filters = a.i(10), fPad = a.i(11), k = a.i(12), units = a.i(13);
  const float* coef = a.p<float>(14);
  const float* bias = a.p<float>(15);
  const Binariser* bin = a.p<Binariser>(16);
  float* outAll = a.p<float>(17);
  int32_t* next = a.p<int32_t>(19);
  const int chunk = a.i(20);
  const int before = (k - 1) >> 1;
  const int taps = k * k;
  float* rowBuf = local<float>((size_t)width * fPad, 1);
#if BLU_AVX512
  // The vectorised masked rows: the same conv described for the tiles (cin bounds the counts).
  XnorConv c{act, pixels, height, width, words, aLevels, 32 * words, weights, nullptr, wLevels, filters, fPad, k, units, coef, bias};
  const int f8 = pad8(filters);
  u64* rowPatches = local<u64>((size_t)width * aLevels * units * 2, 0);
  u64* rowPatchesNz = rowPatches + (size_t)width * aLevels * units;
  u64* wt = local<u64>((size_t)wLevels * units * f8 * 2, 2);
  u64* wnzT = wt + (size_t)wLevels * units * f8;
  float* bias8 = local<float>((size_t)f8, 2);
  transposeLanes(c, weights, wt, 8);
  transposeLanes(c, weightsNonzero, wnzT, 8);
  padBias(bias, filters, bias8, 8);
#endif
  u64* patch = local<u64>((size_t)aLevels * units * 2, 3);
  u64* patchNonzero = patch + (size_t)aLevels * units;
  int zeros = 0;
  for (int y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    for (int y = y0; y < imin(height, y0 + chunk); y++) {
      float* row = bin ? rowBuf : outAll + (size_t)y * width * fPad;
      StageTimer timer(STAGE_XNOR);
#if BLU_AVX512
      const bool vectorised = binaryConvRowMasked512(c, actNonzero, y, rowPatches, rowPatchesNz, wt, wnzT, bias8, row);
#else
      const bool vectorised = false;
#endif
      for (int x = 0; !vectorised && x < width; x++) {
        memset(patch, 0, sizeof(u64) * aLevels * units * 2);
        for (int t = 0; t < taps; t++) {
          const int iy = y + t / k - before;
          const int ix = x + t % k - before;
          if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
          for (int n = 0; n < aLevels; n++) {
            const size_t from = ((size_t)(n * pixels) + (size_t)iy * width + ix) * words;
            memcpy((u32*)(patch + (size_t)n * units) + t * words, act + from, 4 * words);
            memcpy((u32*)(patchNonzero + (size_t)n * units) + t * words, actNonzero + from, 4 * words);
          }
        }
        for (int f = 0; f < filters; f++) {
          float acc = bias[f];
          for (int m = 0; m < wLevels; m++) {
            const size_t at = (size_t)(m * filters + f) * units;
            for (int n = 0; n < aLevels; n++) {
              const u64* p = patch + (size_t)n * units;
              const u64* pn = patchNonzero + (size_t)n * units;
              int64_t dot = 0;
              for (int u = 0; u < units; u++) {
                const u64 mask = weightsNonzero[at + u] & pn[u];
                dot += popcount64(mask) - 2 * popcount64((weights[at + u] ^ p[u]) & mask);
              }
              acc += coef[m * aLevels + n] * (float)dot;
            }
          }
          row[(size_t)x * fPad + f] = acc;
        }
      }
      timer.stop();
      StageTimer t(STAGE_BINARISE);
      if (bin) zeros += binariseWith(base, bin, row, y, width, fPad);
    }
  }
  return zeros;
}

// ---- whole-block row loops (rows claimed `chunk` at a time from the shared counter `next`) ----

int firstRows(uint8_t* base, const double* args) {
  const Args a{base, args};
  const float* image = a.p<float>(0);
  const int height = a.i(1), width = a.i(2), k = a.i(3);
  const float* weights = a.p<float>(4);
  const int fPad = a.i(5);
  const float* bias = a.p<float>(6);
  const Binariser* bin = a.p<Binariser>(7);
  float* row = a.p<float>(8);
  int32_t* next = a.p<int32_t>(9);
  const int chunk = a.i(10);
  int zeros = 0;
  for (int y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    for (int y = y0; y < imin(height, y0 + chunk); y++) {
      {
        StageTimer t(STAGE_FIRST);
        realConvRow(image, height, width, y, k, weights, fPad, bias, row);
      }
      StageTimer t(STAGE_BINARISE);
      zeros += binariseWith(base, bin, row, y, width, fPad);
    }
  }
  return zeros;
}

int xnorRows(uint8_t* base, const double* args) {
  const Args a{base, args};
  const XnorConv c = xnorArgs(a, 0);
  const Binariser* bin = a.p<Binariser>(16);
  float* outAll = a.p<float>(17);
  int32_t* next = a.p<int32_t>(19);
  const int chunk = a.i(20);
  float* rowBuf = local<float>((size_t)c.width * c.fPad, 1);
#if BLU_AVX2
  // The whole row's patches (the tiled kernel walks them once per filter block).
  u64* patch = local<u64>((size_t)c.width * c.aLevels * c.units, 0);
  int* valid = local<int>((size_t)c.width, 0);
  int* outside = local<int>((size_t)c.width * c.k * c.k, 1);
  const int fp = padFilters(c.filters);
  TileOps::Lane* wt = local<TileOps::Lane>((size_t)c.wLevels * lanesOf<TileOps::Lane>(c) * fp, 2);
  int32_t* tapPopT = local<int32_t>((size_t)c.wLevels * c.k * c.k * fp, 3);
  float* biasPadded = local<float>((size_t)fp, 2);
  transposeXnor(c, wt, tapPopT, biasPadded, TileOps::PAD);
#else
  u64* patch = local<u64>((size_t)c.aLevels * c.units, 0);
#endif
  int zeros = 0;
  for (int y0 = claim(next, chunk); y0 < c.height; y0 = claim(next, chunk)) {
    for (int y = y0; y < imin(c.height, y0 + chunk); y++) {
      float* row = bin ? rowBuf : outAll + (size_t)y * c.width * c.fPad;
      {
        StageTimer t(STAGE_XNOR);
#if BLU_AVX2
        if (!binaryConvRowTiled(c, y, patch, valid, outside, wt, tapPopT, biasPadded, row)) binaryConvRowScalar(c, y, patch, row);
#else
        binaryConvRowScalar(c, y, patch, row);
#endif
      }
      StageTimer t(STAGE_BINARISE);
      if (bin) zeros += binariseWith(base, bin, row, y, c.width, c.fPad);
    }
  }
  return zeros;
}

/** One separable input channel group: signs, nonzero, words, levels, gammas, channels (as the host writes them). */
struct Group {
  int32_t signs, nonzero, words, levels, gammas, channels;
};

/**
 * The decoded input rows of one thread's separable block: 4 ring rows and a zero row (the rows
 * outside the image), each with a zero pixel before and after (depthwiseRows), `stride` floats per
 * pixel (depthwiseStride). k is 2 or 3 (plan.ts), so a pair of output rows reads at most the 4
 * rows the ring holds.
 */
struct SeparableRing {
  uint8_t* base;
  const Group* groups;
  int nGroups, height, width, stride;
  float* slots;
  size_t slotFloats;
  int tags[4] = {-1, -1, -1, -1};

  SeparableRing(uint8_t* base, const Group* groups, int nGroups, int height, int width, int cinPad, float* at)
      : base(base), groups(groups), nGroups(nGroups), height(height), width(width), stride(depthwiseStride(cinPad)), slots(at),
        slotFloats(padTo((width + 2) * stride, 16)) {
    for (int slot = 0; slot < 5; slot++) {
      float* row = slots + slot * slotFloats;
      for (size_t i = 0; i < (size_t)stride; i++) row[i] = row[(size_t)(width + 1) * stride + i] = 0;
    }
    for (size_t i = 0; i < (size_t)width * stride; i++) slots[4 * slotFloats + stride + i] = 0;
  }

  /** Input row iy (pixel 0), decoded on first use; the zero row outside the image. */
  float* row(int iy) {
    if (iy < 0 || iy >= height) return slots + 4 * slotFloats + stride;
    float* at = slots + (iy % 4) * slotFloats + stride;
    if (tags[iy % 4] == iy) return at;
    StageTimer t(STAGE_DECODE);
    int offset = 0;
    for (int i = 0; i < nGroups; i++) {
      const Group& g = groups[i];
      decodeRow((const u32*)(base + g.signs), g.nonzero ? (const u32*)(base + g.nonzero) : nullptr, height * width, g.words, g.levels,
                (const float*)(base + g.gammas), g.channels, iy * width, width, at, stride, offset);
      offset += g.channels;
    }
    tags[iy % 4] = iy;
    return at;
  }
};

int separableRows(uint8_t* base, const double* args) {
  const Args a{base, args};
  const Group* groups = a.p<Group>(0);
  const int nGroups = a.i(1), height = a.i(2), width = a.i(3), cinPad = a.i(4), k = a.i(5);
  const float* dw = a.p<float>(6);
  const float* pw = a.p<float>(7);
  const int fPad = a.i(8);
  const float* bias = a.p<float>(9);
  const Binariser* bin = a.p<Binariser>(10);
  float* scratch = a.p<float>(11);
  int32_t* next = a.p<int32_t>(12);
  const int chunk = a.i(13);
  // up = 1: the input is the nearest ×2 upsample of the planes given (height and width are the
  // output's), read in place: each input row is decoded once, at half width, for two output rows.
  const int up = a.i(14);
  // Inside the host's scratch (separableScratchBytes in native.ts, an upper bound): 2 depthwise
  // rows, the pointwise row, the depthwise weights, then the ring; the depthwise's at `stride`.
  const int stride = depthwiseStride(cinPad);
  const size_t rowFloats = padTo(width * stride, 16);  // whole cache lines
  float* const dwRows[2] = {scratch, scratch + rowFloats};
  float* const pwRow = scratch + 2 * rowFloats;
  float* const weights = pwRow + padTo(width * fPad, 16);
  for (int t = 0; t < k * k; t++) memcpy(weights + (size_t)t * stride, dw + (size_t)t * cinPad, (size_t)cinPad * 4);
  SeparableRing ring(base, groups, nGroups, height >> up, width >> up, cinPad, weights + padTo(k * k * stride, 16));
  const int before = (k - 1) >> 1;
  float* rows[4];
  int zeros = 0;
  for (int y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    const int end = imin(height, y0 + chunk);
    for (int y = y0, count; y < end; y += count) {
      count = y + 1 < end ? 2 : 1;
      for (int r = 0; r < k + count - 1; r++) rows[r] = ring.row((y + r - before) >> up);
      {
        StageTimer t(STAGE_DEPTHWISE);
        // separableBinarise (no pointwise): unfused, + the depthwise bias after the sum (as the simulation and kernels.wasm add it).
        if (pw) depthwiseRows<true>(rows, stride, k, up, count, width, cinPad, weights, nullptr, dwRows);
        else depthwiseRows<false>(rows, stride, k, up, count, width, cinPad, weights, bias, dwRows);
      }
      for (int o = 0; o < count; o++) {
        if (!pw) {
          // separableBinarise: the depthwise row is binarised; the host runs the pointwise as a 1×1 XNOR conv.
          StageTimer t(STAGE_BINARISE);
          zeros += binariseWith(base, bin, dwRows[o], y + o, width, stride);
          continue;
        }
        {
          StageTimer t(STAGE_GEMM);
          gemmRow(dwRows[o], stride, width, cinPad, pw, fPad, bias, pwRow);
        }
        StageTimer t(STAGE_BINARISE);
        zeros += binariseWith(base, bin, pwRow, y + o, width, fPad);
      }
    }
  }
  return zeros;
}

/** Whether the ±1 codes (no zero flags) rank by value as their bits compare read level 0 first, with no ties (wasm.ts lexicographicRanks). */
bool lexicographic(const int32_t* rank, int levels) {
  if (levels > 3) return false;
  const int codes = 1 << levels;
  auto key = [levels](int code) {
    int k = 0;
    for (int n = 0; n < levels; n++) k |= ((code >> n) & 1) << (levels - 1 - n);
    return k;
  };
  for (int a = 0; a < codes; a++)
    for (int b = 0; b < codes; b++)
      if (key(a) < key(b) && !(rank[a] < rank[b])) return false;
  return true;
}

/**
 * 2×2 max-pool by rank (codes with exact-zero signs). When the ±1 codes order lexicographically,
 * channels whose 4 corners have no zero sign take the bitwise comparison of maxPoolOrderedRows,
 * 32 at a time, and only channels touching a zero are ranked one by one: a single exact zero in
 * a 512² tensor no longer makes the whole pool scalar. Same result either way (a unique maximum).
 */
int maxPoolRows(uint8_t* base, const double* args) {
  const Args a{base, args};
  const u32* signs = a.p<u32>(0);
  const u32* nonzero = a.p<u32>(1);
  const int height = a.i(2), width = a.i(3), words = a.i(4), levels = a.i(5), channels = a.i(6);
  const int32_t* rank = a.p<int32_t>(7);
  u32* outSigns = a.p<u32>(8);
  u32* outNonzero = a.p<u32>(9);
  int32_t* next = a.p<int32_t>(10);
  const int chunk = a.i(11);
  StageTimer timer(STAGE_POOL);
  const bool ordered = lexicographic(rank, levels);
  const int oh = height >> 1, ow = width >> 1;
  const size_t inPixels = (size_t)height * width, outPixels = (size_t)oh * ow;
  const size_t inLevel = inPixels * words, outLevel = outPixels * words;
  for (int y0 = claim(next, chunk); y0 < oh; y0 = claim(next, chunk)) {
    for (int oy = y0; oy < imin(oh, y0 + chunk); oy++) {
      for (int ox = 0; ox < ow; ox++) {
        const size_t p0 = (size_t)2 * oy * width + 2 * ox;
        for (int w = 0; w < words; w++) {
          const int lanes = imin(32, channels - 32 * w);
          const u32 laneMask = lanes == 32 ? 0xffffffffu : (1u << lanes) - 1;
          u32 fast = 0;
          if (ordered) {
            fast = laneMask;
            const u32* first = signs + p0 * words + w;
            u32 b0 = first[0], b1 = levels > 1 ? first[inLevel] : 0, b2 = levels > 2 ? first[2 * inLevel] : 0;
            for (int i = 0; i < 4; i++) {
              const size_t at = (p0 + (size_t)(i >> 1) * width + (i & 1)) * words + w;
              if (nonzero)
                for (int n = 0; n < levels; n++) fast &= nonzero[n * inLevel + at];
              if (i == 0) continue;
              const u32 c0 = signs[at], c1 = levels > 1 ? signs[inLevel + at] : 0, c2 = levels > 2 ? signs[2 * inLevel + at] : 0;
              const u32 gt = (c0 & ~b0) | (~(c0 ^ b0) & ((c1 & ~b1) | (~(c1 ^ b1) & c2 & ~b2)));
              b0 = (b0 & ~gt) | (c0 & gt);
              b1 = (b1 & ~gt) | (c1 & gt);
              b2 = (b2 & ~gt) | (c2 & gt);
            }
            const size_t out = ((size_t)oy * ow + ox) * words + w;
            const u32 best[3] = {b0, b1, b2};
            for (int n = 0; n < levels; n++) {
              outSigns[n * outLevel + out] |= best[n] & fast;
              if (nonzero) outNonzero[n * outLevel + out] |= fast;
            }
          }
          for (u32 slow = laneMask & ~fast; slow != 0; slow &= slow - 1) {
            const int c = __builtin_ctz(slow);
            u32 bestCode = 0;
            int bestRank = -1;
            for (int i = 0; i < 4; i++) {
              const size_t p = p0 + (size_t)(i >> 1) * width + (i & 1);
              u32 code = 0;
              for (int n = 0; n < levels; n++) {
                const size_t at = (n * inPixels + p) * words + w;
                code |= ((signs[at] >> c) & 1) << n;
                if (nonzero) code |= ((~nonzero[at] >> c) & 1) << (levels + n);
              }
              if (rank[code] > bestRank) {
                bestRank = rank[code];
                bestCode = code;
              }
            }
            for (int n = 0; n < levels; n++) {
              const size_t at = (n * outPixels + (size_t)oy * ow + ox) * words + w;
              outSigns[at] |= ((bestCode >> n) & 1) << c;
              if (nonzero) outNonzero[at] |= (((bestCode >> (levels + n)) & 1) ^ 1) << c;
            }
          }
        }
      }
    }
  }
  return 0;
}

int maxPoolOrderedRows(uint8_t* base, const double* args) {
  const Args a{base, args};
  const u32* signs = a.p<u32>(0);
  const int height = a.i(1), width = a.i(2), words = a.i(3), levels = a.i(4);
  u32* outSigns = a.p<u32>(5);
  int32_t* next = a.p<int32_t>(6);
  const int chunk = a.i(7);
  StageTimer timer(STAGE_POOL);
  const int oh = height >> 1, ow = width >> 1;
  const size_t inLevel = (size_t)height * width * words, outLevel = (size_t)oh * ow * words;
  for (int y0 = claim(next, chunk); y0 < oh; y0 = claim(next, chunk)) {
    for (int oy = y0; oy < imin(oh, y0 + chunk); oy++) {
      for (int ox = 0; ox < ow; ox++) {
        for (int w = 0; w < words; w++) {
          const u32* first = signs + ((size_t)2 * oy * width + 2 * ox) * words + w;
          u32 b0 = first[0], b1 = levels > 1 ? first[inLevel] : 0, b2 = levels > 2 ? first[2 * inLevel] : 0;
          for (int i = 1; i < 4; i++) {
            const u32* at = first + ((size_t)(i >> 1) * width + (i & 1)) * words;
            const u32 c0 = at[0], c1 = levels > 1 ? at[inLevel] : 0, c2 = levels > 2 ? at[2 * inLevel] : 0;
            const u32 gt = (c0 & ~b0) | (~(c0 ^ b0) & ((c1 & ~b1) | (~(c1 ^ b1) & c2 & ~b2)));
            b0 = (b0 & ~gt) | (c0 & gt);
            b1 = (b1 & ~gt) | (c1 & gt);
            b2 = (b2 & ~gt) | (c2 & gt);
          }
          u32* out = outSigns + ((size_t)oy * ow + ox) * words + w;
          out[0] = b0;
          if (levels > 1) out[outLevel] = b1;
          if (levels > 2) out[2 * outLevel] = b2;
        }
      }
    }
  }
  return 0;
}

// ---- single-row entry points the host calls directly (the corrected-zeros path) ----

int binariseRowEntry(uint8_t* base, const double* args) {
  const Args a{base, args};
  return binariseRow(a.p<float>(0), a.i(1), a.i(2), a.i(3), a.p<float>(4), a.i(5), a.p<u32>(6), a.p<u32>(7), a.i(8), a.i(9), a.i(10), (float)args[11]);
}

int binaryConvRowEntry(uint8_t* base, const double* args) {
  const Args a{base, args};
  const XnorConv c = xnorArgs(a, 0);
  // args 16–18: y, patch (host scratch, unused: the kernel keeps its own), out
  binaryConvRowScalar(c, a.i(16), local<u64>((size_t)c.aLevels * c.units, 0), a.p<float>(18));
  return 0;
}

// ---- arithmetic limits (bench:engine): register-only loops of each kernel's instruction mix ----
// args[0] = iterations. With 0, each returns the operations one iteration does (multiply-adds
// for FMA, binary multiply-adds, i.e. bits through XOR-popcount-add, for XNOR); otherwise the
// thread CPU microseconds the loop took (so a shared machine's preemption does not count).
// The empty asm makes every register opaque each iteration, so nothing is hoisted out.

#if BLU_AVX512
int peakFma(uint8_t*, const double* args) {
  const long n = (long)args[0];
  const uint64_t start = bluNowNs();
  __m512 acc[24];
  for (int i = 0; i < 24; i++) acc[i] = _mm512_set1_ps((float)i);
  __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-7f);
  for (long it = 0; it < n; it++) {
    __asm__ volatile("" : "+v"(a), "+v"(b));
#pragma GCC unroll 24
    for (int i = 0; i < 24; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  }
  float sink = 0;
  for (int i = 0; i < 24; i++) sink += _mm512_reduce_add_ps(acc[i]);
  __asm__ volatile("" ::"x"(sink));
  return n == 0 ? 24 * 16 : (int)((bluNowNs() - start) / 1000);
}

/** xnorTile's inner loop: per patch word, for 3 activation levels, XOR with a broadcast, VPOPCNTD, add (32-bit lanes). */
int peakXnor(uint8_t*, const double* args) {
  const long n = (long)args[0];
  const uint64_t start = bluNowNs();
  __m512i t[12], w[4];
  for (int i = 0; i < 12; i++) t[i] = _mm512_setzero_si512();
  for (int i = 0; i < 4; i++) w[i] = _mm512_set1_epi32((int)(0x9e3779b9u * (i + 1)));
  __m512i p0 = _mm512_set1_epi32(0x01234567), p1 = _mm512_set1_epi32(0x11112222), p2 = _mm512_set1_epi32(0x5555aaaa);
  for (long it = 0; it < n; it++) {
    __asm__ volatile("" : "+v"(w[0]), "+v"(w[1]), "+v"(w[2]), "+v"(w[3]));
#pragma GCC unroll 4
    for (int u = 0; u < 4; u++) {
      t[3 * u] = _mm512_add_epi32(t[3 * u], _mm512_popcnt_epi32(_mm512_xor_si512(w[u], p0)));
      t[3 * u + 1] = _mm512_add_epi32(t[3 * u + 1], _mm512_popcnt_epi32(_mm512_xor_si512(w[u], p1)));
      t[3 * u + 2] = _mm512_add_epi32(t[3 * u + 2], _mm512_popcnt_epi32(_mm512_xor_si512(w[u], p2)));
    }
  }
  long long sink = 0;
  for (int i = 0; i < 12; i++) sink += _mm512_reduce_add_epi32(t[i]);
  __asm__ volatile("" ::"r"(sink));
  return n == 0 ? 12 * 512 : (int)((bluNowNs() - start) / 1000);
}
#elif BLU_AVX2
int peakFma(uint8_t*, const double* args) {
  const long n = (long)args[0];
  const uint64_t start = bluNowNs();
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-7f);
  for (long it = 0; it < n; it++) {
    __asm__ volatile("" : "+x"(a), "+x"(b));
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  }
  float sink = 0;
  for (int i = 0; i < 12; i++) {
    float lanes[8];
    _mm256_storeu_ps(lanes, acc[i]);
    sink += lanes[0];
  }
  __asm__ volatile("" ::"x"(sink));
  return n == 0 ? 12 * 8 : (int)((bluNowNs() - start) / 1000);
}

/**
 * xnorTile256's inner loop: per weight unit, 2 weight vectors × 3 broadcast activation levels,
 * XOR, nibble-table popcount, byte add; the byte counts widened by VPSADBW every BYTE_UNITS units.
 */
int peakXnor(uint8_t*, const double* args) {
  const long n = (long)args[0];
  const uint64_t start = bluNowNs();
  const __m256i table = nibbleCounts(), lowNibbles = _mm256_set1_epi8(0x0f);
  __m256i counts[6], bytes[6];
  for (int i = 0; i < 6; i++) counts[i] = _mm256_setzero_si256();
  __m256i w0 = _mm256_set1_epi64x(0x9e3779b97f4a7c15LL), w1 = _mm256_set1_epi64x(0x3c6ef372fe94f82aLL);
  __m256i p0 = _mm256_set1_epi64x(0x0123456789abcdefLL), p1 = _mm256_set1_epi64x(0x1111222233334444LL), p2 = _mm256_set1_epi64x(0x5555aaaa5555aaaaLL);
  for (long done = 0; done < n; done += BYTE_UNITS) {
    for (int i = 0; i < 6; i++) bytes[i] = _mm256_setzero_si256();
    for (long it = done; it < n && it < done + BYTE_UNITS; it++) {
      __asm__ volatile("" : "+x"(w0), "+x"(w1));
      bytes[0] = _mm256_add_epi8(bytes[0], popcountBytes(_mm256_xor_si256(w0, p0), table, lowNibbles));
      bytes[1] = _mm256_add_epi8(bytes[1], popcountBytes(_mm256_xor_si256(w0, p1), table, lowNibbles));
      bytes[2] = _mm256_add_epi8(bytes[2], popcountBytes(_mm256_xor_si256(w0, p2), table, lowNibbles));
      bytes[3] = _mm256_add_epi8(bytes[3], popcountBytes(_mm256_xor_si256(w1, p0), table, lowNibbles));
      bytes[4] = _mm256_add_epi8(bytes[4], popcountBytes(_mm256_xor_si256(w1, p1), table, lowNibbles));
      bytes[5] = _mm256_add_epi8(bytes[5], popcountBytes(_mm256_xor_si256(w1, p2), table, lowNibbles));
    }
    for (int i = 0; i < 6; i++) counts[i] = _mm256_add_epi64(counts[i], _mm256_sad_epu8(bytes[i], _mm256_setzero_si256()));
  }
  long long sink = 0;
  for (int i = 0; i < 6; i++) sink += _mm256_extract_epi64(counts[i], 0);
  __asm__ volatile("" ::"r"(sink));
  return n == 0 ? 6 * 256 : (int)((bluNowNs() - start) / 1000);
}
#endif

#if !BLU_AVX2
/** binaryConvRowScalar's inner loop: 64-bit XOR, POPCNT, add, 3 activation levels per weight word. */
int peakXnor(uint8_t*, const double* args) {
  const long n = (long)args[0];
  const uint64_t start = bluNowNs();
  u64 t[12] = {0};
  u64 w[4] = {0x9e3779b97f4a7c15ULL, 0x3c6ef372fe94f82aULL, 0xdaa66d2c7ddf743fULL, 0x78dde6e5fd29f054ULL};
  const u64 p0 = 0x0123456789abcdefULL, p1 = 0x1111222233334444ULL, p2 = 0x5555aaaa5555aaaaULL;
  for (long it = 0; it < n; it++) {
    __asm__ volatile("" : "+r"(w[0]), "+r"(w[1]), "+r"(w[2]), "+r"(w[3]));
    for (int u = 0; u < 4; u++) {
      t[3 * u] += popcount64(w[u] ^ p0);
      t[3 * u + 1] += popcount64(w[u] ^ p1);
      t[3 * u + 2] += popcount64(w[u] ^ p2);
    }
  }
  u64 sink = 0;
  for (int i = 0; i < 12; i++) sink += t[i];
  __asm__ volatile("" ::"r"(sink));
  return n == 0 ? 12 * 64 : (int)((bluNowNs() - start) / 1000);
}
#endif

#if !BLU_AVX2
/** Plain multiply and add on floats, as the portable GEMM (the compiler vectorises for the baseline). */
int peakFma(uint8_t*, const double* args) {
  const long n = (long)args[0];
  const uint64_t start = bluNowNs();
  float acc[64];
  for (int i = 0; i < 64; i++) acc[i] = (float)i;
  float a = 0.999f, b = 1e-7f;
  for (long it = 0; it < n; it++) {
    __asm__ volatile("" : "+r"(a), "+r"(b));
    for (int i = 0; i < 64; i++) acc[i] = acc[i] * a + b;
  }
  float sink = 0;
  for (int i = 0; i < 64; i++) sink += acc[i];
  __asm__ volatile("" ::"r"(sink));
  return n == 0 ? 64 : (int)((bluNowNs() - start) / 1000);
}
#endif

}  // namespace

extern const KernelTable table = {
    KNAME,
    16,
    {firstRows, xnorRows, xnorRowsMasked, separableRows, maxPoolRows, maxPoolOrderedRows, binariseRowEntry, binaryConvRowEntry, peakFma, peakXnor},
};

}  // namespace KNS
