// WebAssembly SIMD kernels of the binary engine (AssemblyScript). Every function works on raw
// pointers into linear memory that the host (src/ml/engine/wasm.ts) lays out; nothing allocates.
// Layouts match src/ml/engine/tensors.ts: sign planes [level][pixel][word], bit set = +1.
// Float rows are padded to a multiple of 4 channels so every inner loop is f32x4.

/**
 * acc + x·w. In the relaxed-SIMD build (kernels-fma.wasm) one fused multiply-add where the CPU has
 * FMA, which rounds once instead of twice (still within the tests' tolerance of the simulation,
 * and the same on every thread); in the plain build the multiply and add of before.
 */
// @ts-ignore: decorator
@inline
function madd(x: v128, w: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(x, w, acc);
  return f32x4.add(acc, f32x4.mul(x, w));
}

// ---- decoding binarised activations to their values (for the depthwise conv) ----

/**
 * Writes the values Σ_n |a_n|·s_n (fp32, op order ((t1 + t2) + t3)) of `count` pixels starting at
 * `pixelStart` into out[pixel][outOffset + c] with row stride `outStride` floats.
 * nonzero = 0 means every sign is ±1.
 */
export function decodeRow(signs: usize, nonzero: usize, pixels: i32, words: i32, levels: i32, gammas: usize, channels: i32,
  pixelStart: i32, count: i32, out: usize, outStride: i32, outOffset: i32): void {
  for (let p = 0; p < count; p++) {
    const dst = out + (<usize>(p * outStride + outOffset) << 2);
    for (let w = 0; w < words; w++) {
      const lanes = min(32, channels - 32 * w);
      let c = 0;
      for (; c + 4 <= lanes; c += 4) {
        let v = f32x4.splat(0);
        for (let n = 0; n < levels; n++) {
          const at = (<usize>((n * pixels + pixelStart + p) * words + w)) << 2;
          const bits = i32x4.splat(load<i32>(signs + at) >>> c);
          const g = f32x4.splat(load<f32>(gammas + (<usize>n << 2)));
          const plus = i32x4.ne(v128.and(bits, i32x4(1, 2, 4, 8)), i32x4.splat(0));
          let t = v128.bitselect(g, f32x4.neg(g), plus);
          if (nonzero != 0) {
            const nz = i32x4.splat(load<i32>(nonzero + at) >>> c);
            t = v128.and(t, i32x4.ne(v128.and(nz, i32x4(1, 2, 4, 8)), i32x4.splat(0)));
          }
          v = n == 0 ? t : f32x4.add(v, t);
        }
        v128.store(dst + (<usize>(32 * w + c) << 2), v);
      }
      // Tail: exact channel count, so a neighbouring group's channels are not overwritten.
      for (; c < lanes; c++) {
        let v: f32 = 0;
        for (let n = 0; n < levels; n++) {
          const at = (<usize>((n * pixels + pixelStart + p) * words + w)) << 2;
          const g = load<f32>(gammas + (<usize>n << 2));
          let t: f32 = (load<i32>(signs + at) >>> c) & 1 ? g : -g;
          if (nonzero != 0 && ((load<i32>(nonzero + at) >>> c) & 1) == 0) t = 0;
          v = n == 0 ? t : v + t;
        }
        store<f32>(dst + (<usize>(32 * w + c) << 2), v);
      }
    }
  }
}

// ---- depthwise conv (real decoded input × decoded binary kernel) ----

/**
 * One output row of a k×k depthwise conv, 'same' padding. rows: k row pointers (0 = outside the
 * image) into decoded rows [width][cinPad]; weights [k·k][cinPad]; out [width][cinPad].
 * taps: scratch for 2·k·k pointers (the valid taps of one pixel, so the channel loop is branch-free).
 * fused = false: multiply, then add, in every build (its output is binarised directly with
 * separableBinarise, and every engine must take the same signs there).
 */
export function depthwiseRow(rows: usize, k: i32, width: i32, cinPad: i32, weights: usize, out: usize, taps: usize, fused: bool = true): void {
  const before = (k - 1) >> 1;
  for (let x = 0; x < width; x++) {
    let nt = 0;
    for (let ty = 0; ty < k; ty++) {
      const row = load<u32>(rows + (<usize>ty << 2));
      if (row == 0) continue;
      for (let tx = 0; tx < k; tx++) {
        const ix = x + tx - before;
        if (ix < 0 || ix >= width) continue;
        store<usize>(taps + (<usize>nt << 3), <usize>row + (<usize>(ix * cinPad) << 2));
        store<usize>(taps + (<usize>nt << 3) + 4, weights + (<usize>((ty * k + tx) * cinPad) << 2));
        nt++;
      }
    }
    const dst = out + (<usize>(x * cinPad) << 2);
    for (let c = 0; c < cinPad; c += 4) {
      const o = <usize>c << 2;
      let acc = f32x4.splat(0);
      if (fused) {
        for (let i = 0; i < nt; i++) {
          const at = taps + (<usize>i << 3);
          acc = madd(v128.load(load<usize>(at + 4) + o), v128.load(load<usize>(at) + o), acc);
        }
      } else {
        for (let i = 0; i < nt; i++) {
          const at = taps + (<usize>i << 3);
          acc = f32x4.add(acc, f32x4.mul(v128.load(load<usize>(at + 4) + o), v128.load(load<usize>(at) + o)));
        }
      }
      v128.store(dst + o, acc);
    }
  }
}

// ---- pointwise conv: [width][cinPad] × panels of [cinPad][8 filters] + bias ----

/**
 * out[x][f] = bias[f] + Σ_c a[x][c]·b[c][f], c in order (the sum order never depends on blocking).
 * b is in panels (see pointwisePanels in wasm.ts): filters f..f+7 are [cinPad][8] at b + f·cinPad
 * floats, a last 4-filter strip [cinPad][4]. Filter strips are the outer loop so one panel (at
 * most cinPad·32 bytes) stays in cache while every pixel of the row streams past it; with
 * pixels outer, a 1024×1024 kernel (4 MiB) was re-read from memory for every 4 pixels.
 */
export function gemmRow(a: usize, width: i32, cinPad: i32, b: usize, fPad: i32, bias: usize, out: usize): void {
  const rowA = <usize>cinPad << 2;
  const rowO = <usize>fPad << 2;
  let f = 0;
  for (; f + 8 <= fPad; f += 8) {
    const panel = b + (<usize>(f * cinPad) << 2);
    const fo = <usize>f << 2;
    let x = 0;
    for (; x + 4 <= width; x += 4) gemm4x8(a + <usize>x * rowA, cinPad, panel, bias + fo, out + <usize>x * rowO + fo, rowO);
    for (; x < width; x++) gemm1xN(a + <usize>x * rowA, cinPad, panel, 8, bias + fo, out + <usize>x * rowO + fo);
  }
  if (f < fPad) {
    const panel = b + (<usize>(f * cinPad) << 2);
    const fo = <usize>f << 2;
    let x = 0;
    for (; x + 4 <= width; x += 4) gemm4x4(a + <usize>x * rowA, cinPad, panel, bias + fo, out + <usize>x * rowO + fo, rowO);
    for (; x < width; x++) gemm1xN(a + <usize>x * rowA, cinPad, panel, 4, bias + fo, out + <usize>x * rowO + fo);
  }
}

/** 4 pixels × 8 filters: 8 f32x4 accumulators, 2 weight vectors and 4 splats fit the 16 SIMD registers. */
// @ts-ignore: decorator
@inline
function gemm4x8(a: usize, cinPad: i32, panel: usize, bias: usize, out: usize, rowO: usize): void {
  const rowA = <usize>cinPad << 2;
  let a00 = v128.load(bias), a01 = v128.load(bias + 16);
  let a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
  let w = panel;
  const endA = a + rowA;
  for (let p = a; p < endA; p += 4) {
    const w0 = v128.load(w), w1 = v128.load(w + 16);
    const x0 = v128.load32_splat(p), x1 = v128.load32_splat(p + rowA);
    const x2 = v128.load32_splat(p + 2 * rowA), x3 = v128.load32_splat(p + 3 * rowA);
    a00 = madd(x0, w0, a00); a01 = madd(x0, w1, a01);
    a10 = madd(x1, w0, a10); a11 = madd(x1, w1, a11);
    a20 = madd(x2, w0, a20); a21 = madd(x2, w1, a21);
    a30 = madd(x3, w0, a30); a31 = madd(x3, w1, a31);
    w += 32;
  }
  v128.store(out, a00); v128.store(out + 16, a01);
  v128.store(out + rowO, a10); v128.store(out + rowO + 16, a11);
  v128.store(out + 2 * rowO, a20); v128.store(out + 2 * rowO + 16, a21);
  v128.store(out + 3 * rowO, a30); v128.store(out + 3 * rowO + 16, a31);
}

/** 4 pixels × the last 4 filters. */
function gemm4x4(a: usize, cinPad: i32, panel: usize, bias: usize, out: usize, rowO: usize): void {
  const rowA = <usize>cinPad << 2;
  let a0 = v128.load(bias);
  let a1 = a0, a2 = a0, a3 = a0;
  let w = panel;
  const endA = a + rowA;
  for (let p = a; p < endA; p += 4) {
    const w0 = v128.load(w);
    a0 = madd(v128.load32_splat(p), w0, a0);
    a1 = madd(v128.load32_splat(p + rowA), w0, a1);
    a2 = madd(v128.load32_splat(p + 2 * rowA), w0, a2);
    a3 = madd(v128.load32_splat(p + 3 * rowA), w0, a3);
    w += 16;
  }
  v128.store(out, a0); v128.store(out + rowO, a1);
  v128.store(out + 2 * rowO, a2); v128.store(out + 3 * rowO, a3);
}

/** One pixel × one strip of `strip` (4 or 8) filters. */
function gemm1xN(a: usize, cinPad: i32, panel: usize, strip: i32, bias: usize, out: usize): void {
  for (let v = 0; v < strip; v += 4) {
    const vo = <usize>v << 2;
    let acc = v128.load(bias + vo);
    for (let c = 0; c < cinPad; c++) acc = madd(v128.load32_splat(a + (<usize>c << 2)), v128.load(panel + (<usize>(c * strip) << 2) + vo), acc);
    v128.store(out + vo, acc);
  }
}

// ---- real-valued first conv (1 input channel) ----

/** One output row of a k×k conv on a single-channel real image; weights [k·k][fPad]; out [width][fPad]. */
export function realConvRow(image: usize, height: i32, width: i32, y: i32, k: i32, weights: usize, fPad: i32, bias: usize, out: usize): void {
  const before = (k - 1) >> 1;
  for (let x = 0; x < width; x++) {
    const dst = out + (<usize>(x * fPad) << 2);
    for (let f = 0; f < fPad; f += 4) {
      const fo = <usize>f << 2;
      let acc = f32x4.splat(0);
      for (let t = 0; t < k * k; t++) {
        const iy = y + t / k - before;
        const ix = x + t % k - before;
        if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
        acc = madd(f32x4.splat(load<f32>(image + (<usize>(iy * width + ix) << 2))), v128.load(weights + (<usize>(t * fPad) << 2) + fo), acc);
      }
      v128.store(dst + fo, f32x4.add(acc, v128.load(bias + fo)));
    }
  }
}

// ---- residual binarisation of one row ----

/**
 * Binarises y[x][0..channels) (row stride fPad, padded columns 0) into the sign and nonzero
 * planes of pixels pixelStart… Same fp32 ops as the simulation: r ← r − |γ_n|·sign(r), four
 * channels per step; each level's word is assembled in a register and stored once.
 * deadZone > 0: |r| < deadZone has sign 0 (tfjs-wasm's Sign; the file records it).
 * The residuals are computed in place: y is scratch and is left holding the last residual
 * (copying each word's floats out first cost a bulk-memory call per pixel, which showed at
 * small widths). Returns how many signs (of real channels) were exactly 0.
 */
export function binariseRow(y: usize, width: i32, fPad: i32, channels: i32, gammas: usize, levels: i32,
  signs: usize, nonzero: usize, pixels: i32, words: i32, pixelStart: i32, deadZone: f32): i32 {
  let zeros = 0;
  const one = f32x4.splat(1);
  const minusOne = f32x4.splat(-1);
  const zero = f32x4.splat(0);
  const above = f32x4.splat(deadZone);
  const below = f32x4.splat(-deadZone);
  const exact = deadZone == 0;
  for (let x = 0; x < width; x++) {
    for (let w = 0; w < words; w++) {
      const lanes = min(32, channels - 32 * w);
      const vecs = (lanes + 3) >> 2;
      const mask: u32 = lanes == 32 ? 0xffffffff : (<u32>1 << lanes) - 1;
      const residual = y + (<usize>(x * fPad + 32 * w) << 2);
      for (let n = 0; n < levels; n++) {
        const g = f32x4.splat(load<f32>(gammas + (<usize>n << 2)));
        let plusBits: u32 = 0;
        let nonzeroBits: u32 = 0;
        for (let v = 0; v < vecs; v++) {
          const at = residual + (<usize>v << 4);
          const r = v128.load(at);
          const pos = exact ? f32x4.gt(r, zero) : f32x4.ge(r, above);
          const neg = exact ? f32x4.lt(r, zero) : f32x4.le(r, below);
          plusBits |= <u32>i32x4.bitmask(pos) << (4 * v);
          nonzeroBits |= <u32>i32x4.bitmask(v128.or(pos, neg)) << (4 * v);
          const s = v128.or(v128.and(pos, one), v128.and(neg, minusOne));
          v128.store(at, f32x4.sub(r, f32x4.mul(g, s)));
        }
        const word = (<usize>((n * pixels + pixelStart + x) * words + w)) << 2;
        store<u32>(signs + word, plusBits & mask);
        store<u32>(nonzero + word, nonzeroBits & mask);
        zeros += popcnt<u32>(~nonzeroBits & mask);
      }
    }
  }
  return zeros;
}

// ---- 2×2 max-pool on sign codes ----

/**
 * 2×2 max-pool, stride 2 ('valid'), of one channel group. A channel's code is its sign bits per
 * level plus its zero flags (as in bitmaps.ts); rank[code] orders codes by the fp32 value they
 * decode to, so the pool picks the same value the simulation does (first corner on ties).
 * nonzero = 0: no zeros (outNonzero is then not written). Output rows oy0…oy1 − 1.
 */
function maxPoolBand(signs: usize, nonzero: usize, height: i32, width: i32, words: i32, levels: i32, channels: i32,
  rank: usize, outSigns: usize, outNonzero: usize, oy0: i32, oy1: i32): void {
  const oh = height >> 1;
  const ow = width >> 1;
  const inPixels = height * width;
  const outPixels = oh * ow;
  for (let oy = oy0; oy < oy1; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const p0 = 2 * oy * width + 2 * ox;
      for (let w = 0; w < words; w++) {
        const lanes = min(32, channels - 32 * w);
        for (let c = 0; c < lanes; c++) {
          let bestCode = 0;
          let bestRank = -1;
          for (let i = 0; i < 4; i++) {
            const p = p0 + (i >> 1) * width + (i & 1);
            let code = 0;
            for (let n = 0; n < levels; n++) {
              const at = (<usize>((n * inPixels + p) * words + w)) << 2;
              code |= ((load<u32>(signs + at) >>> c) & 1) << n;
              if (nonzero != 0) code |= (((~load<u32>(nonzero + at)) >>> c) & 1) << (levels + n);
            }
            const r = load<i32>(rank + (<usize>code << 2));
            if (r > bestRank) {
              bestRank = r;
              bestCode = code;
            }
          }
          for (let n = 0; n < levels; n++) {
            const at = (<usize>((n * outPixels + oy * ow + ox) * words + w)) << 2;
            store<u32>(outSigns + at, load<u32>(outSigns + at) | (((bestCode >>> n) & 1) << c));
            if (nonzero != 0) store<u32>(outNonzero + at, load<u32>(outNonzero + at) | ((((bestCode >>> (levels + n)) & 1) ^ 1) << c));
          }
        }
      }
    }
  }
}

// ---- XNOR-popcount conv on binarised input and binarised weights ----

/**
 * One output row of a k×k BinaryConv2D (all signs ±1). The k·k taps' words of each activation
 * level are gathered once per pixel into a patch ([level][units] of 64 bits; taps outside the
 * image and the tail are 0); weights are laid out the same way per (level m, filter f). An
 * out-of-image tap adds popcount(weight) to popcount(w ⊕ 0); tapPop [m][f][tap] removes it.
 * out[x][f] = bias[f] + Σ_{m,n} coef[m·aLevels + n]·(valid·cin − 2·popcount(w_m ⊕ s_n)).
 * Scalar i64.popcnt: one native instruction per 64 channels on x86-64 and ARM64, cheaper than
 * i8x16.popcnt plus the horizontal byte sums it needs.
 */
export function binaryConvRow(act: usize, pixels: i32, height: i32, width: i32, words: i32, aLevels: i32, cin: i32,
  weights: usize, tapPop: usize, wLevels: i32, filters: i32, fPad: i32, k: i32, units: i32,
  coef: usize, bias: usize, y: i32, patch: usize, out: usize): void {
  const before = (k - 1) >> 1;
  const taps = k * k;
  const patchBytes = <usize>units << 3;
  const tail = units * 2 - taps * words;
  for (let x = 0; x < width; x++) {
    // Word loops rather than memory.fill/copy: the copies are a few words, where bulk-memory calls cost more.
    let valid = 0;
    for (let t = 0; t < taps; t++) {
      const iy = y + t / k - before;
      const ix = x + t % k - before;
      const inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
      if (inside) valid++;
      for (let n = 0; n < aLevels; n++) {
        const to = patch + <usize>n * patchBytes + (<usize>(t * words) << 2);
        const from = act + (<usize>((n * pixels + iy * width + ix) * words) << 2);
        for (let w = 0; w < words; w++) store<u32>(to + (<usize>w << 2), inside ? load<u32>(from + (<usize>w << 2)) : 0);
      }
    }
    for (let n = 0; n < aLevels; n++) {
      for (let w = 0; w < tail; w++) store<u32>(patch + <usize>n * patchBytes + (<usize>(taps * words + w) << 2), 0);
    }
    const dst = out + (<usize>(x * fPad) << 2);
    for (let f = 0; f < filters; f++) {
      let acc: f32 = load<f32>(bias + (<usize>f << 2));
      for (let m = 0; m < wLevels; m++) {
        const w = weights + <usize>(m * filters + f) * patchBytes;
        let outside = 0;
        if (valid < taps) {
          for (let t = 0; t < taps; t++) {
            const iy = y + t / k - before;
            const ix = x + t % k - before;
            if (iy < 0 || iy >= height || ix < 0 || ix >= width) outside += load<i32>(tapPop + (<usize>((m * filters + f) * taps + t) << 2));
          }
        }
        const c = coef + (<usize>(m * aLevels) << 2);
        if (aLevels == 3) {
          // The thesis's a = 3: one weight load feeds all three activation levels.
          const p1 = patch + patchBytes;
          const p2 = p1 + patchBytes;
          let t0: i64 = 0, t1: i64 = 0, t2: i64 = 0;
          for (let u = 0; u < units; u++) {
            const o = <usize>u << 3;
            const wv = load<u64>(w + o);
            t0 += popcnt<u64>(wv ^ load<u64>(patch + o));
            t1 += popcnt<u64>(wv ^ load<u64>(p1 + o));
            t2 += popcnt<u64>(wv ^ load<u64>(p2 + o));
          }
          acc += load<f32>(c) * <f32>(valid * cin - 2 * (<i32>t0 - outside));
          acc += load<f32>(c + 4) * <f32>(valid * cin - 2 * (<i32>t1 - outside));
          acc += load<f32>(c + 8) * <f32>(valid * cin - 2 * (<i32>t2 - outside));
          continue;
        }
        for (let n = 0; n < aLevels; n++) {
          const p = patch + <usize>n * patchBytes;
          let total: i64 = 0;
          for (let u = 0; u < units; u++) {
            const o = <usize>u << 3;
            total += popcnt<u64>(load<u64>(w + o) ^ load<u64>(p + o));
          }
          acc += load<f32>(c + (<usize>n << 2)) * <f32>(valid * cin - 2 * (<i32>total - outside));
        }
      }
      store<f32>(dst + (<usize>f << 2), acc);
    }
  }
}

/**
 * binaryConvRow for operands with exact-zero signs: each operand also has a nonzero plane
 * (bit set = ±1; padded channels and out-of-image taps clear), laid out like its signs, and a
 * 64-bit unit contributes popcount(m) − 2·popcount((w ⊕ s) & m) with m = its two nonzero words.
 */
export function binaryConvRowMasked(act: usize, actNonzero: usize, pixels: i32, height: i32, width: i32, words: i32, aLevels: i32,
  weights: usize, weightsNonzero: usize, wLevels: i32, filters: i32, fPad: i32, k: i32, units: i32,
  coef: usize, bias: usize, y: i32, patch: usize, patchNonzero: usize, out: usize): void {
  const before = (k - 1) >> 1;
  const taps = k * k;
  const patchBytes = <usize>units << 3;
  for (let x = 0; x < width; x++) {
    memory.fill(patch, 0, patchBytes * <usize>aLevels);
    memory.fill(patchNonzero, 0, patchBytes * <usize>aLevels);
    for (let t = 0; t < taps; t++) {
      const iy = y + t / k - before;
      const ix = x + t % k - before;
      if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
      for (let n = 0; n < aLevels; n++) {
        const to = <usize>n * patchBytes + (<usize>(t * words) << 2);
        const from = <usize>((n * pixels + iy * width + ix) * words) << 2;
        memory.copy(patch + to, act + from, <usize>words << 2);
        memory.copy(patchNonzero + to, actNonzero + from, <usize>words << 2);
      }
    }
    const dst = out + (<usize>(x * fPad) << 2);
    for (let f = 0; f < filters; f++) {
      let acc: f32 = load<f32>(bias + (<usize>f << 2));
      for (let m = 0; m < wLevels; m++) {
        const at = <usize>(m * filters + f) * patchBytes;
        for (let n = 0; n < aLevels; n++) {
          const p = <usize>n * patchBytes;
          let dot: i64 = 0;
          for (let u = 0; u < units; u++) {
            const o = <usize>u << 3;
            const mask = load<u64>(weightsNonzero + at + o) & load<u64>(patchNonzero + p + o);
            dot += popcnt<u64>(mask) - 2 * popcnt<u64>((load<u64>(weights + at + o) ^ load<u64>(patch + p + o)) & mask);
          }
          acc += load<f32>(coef + (<usize>(m * aLevels + n) << 2)) * <f32>dot;
        }
      }
      store<f32>(dst + (<usize>f << 2), acc);
    }
  }
}

// ---- whole-block row loops, shared between threads ----
//
// Every block is a loop over output rows whose rows are independent: each reads the block's
// input (read-only) and writes only its own pixels' words of the output planes. The functions
// below run that loop for whichever rows the calling thread claims: `next` is a shared row
// counter (zeroed by the host) taken `chunk` rows at a time with an atomic add, so a thread slowed
// by other work on the machine simply claims fewer rows. Each thread passes its own `scratch`.
// A row's values never depend on which thread computed it, so any thread count gives the same bits.

/** Where a block's binarised output goes; the host writes it as i32/f32 words in this order. */
@unmanaged class Binariser {
  signs: usize;
  nonzero: usize;
  pixels: i32;
  words: i32;
  channels: i32;
  gammas: usize;
  levels: i32;
  deadZone: f32;
}

// @ts-ignore: decorator
@inline
function binariseWith(bin: usize, row: usize, y: i32, width: i32, fPad: i32): i32 {
  const b = changetype<Binariser>(bin);
  return binariseRow(row, width, fPad, b.channels, b.gammas, b.levels, b.signs, b.nonzero, b.pixels, b.words, y * width, b.deadZone);
}

/** First row of the next chunk this thread takes, or `end` when every row is taken. */
// @ts-ignore: decorator
@inline
function claim(next: usize, chunk: i32): i32 {
  return atomic.add<i32>(next, chunk);
}

// @ts-ignore: decorator
@inline
function align16(bytes: i32): i32 {
  return (bytes + 15) & ~15;
}

/** Scratch bytes per thread for firstRows. */
export function firstScratchBytes(width: i32, fPad: i32): i32 {
  return align16(width * fPad * 4);
}

/** First conv + binarisation of the rows this thread claims. Returns the exact-zero signs it wrote. */
export function firstRows(image: usize, height: i32, width: i32, k: i32, weights: usize, fPad: i32, bias: usize,
  bin: usize, scratch: usize, next: usize, chunk: i32): i32 {
  const row = scratch;
  let zeros = 0;
  for (let y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    const y1 = min(height, y0 + chunk);
    for (let y = y0; y < y1; y++) {
      realConvRow(image, height, width, y, k, weights, fPad, bias, row);
      zeros += binariseWith(bin, row, y, width, fPad);
    }
  }
  return zeros;
}

/** Scratch bytes per thread for xnorRows / xnorRowsMasked (patch, a second patch for the masked kernel, one fp32 row). */
export function xnorScratchBytes(aLevels: i32, units: i32, width: i32, fPad: i32): i32 {
  return 2 * align16(aLevels * units * 8) + align16(width * fPad * 4);
}

/**
 * BinaryConv2D rows (binaryConvRow), then binarised through `bin`; bin = 0 (the output conv)
 * writes the fp32 rows to out[y][x][fPad] instead.
 */
export function xnorRows(act: usize, pixels: i32, height: i32, width: i32, words: i32, aLevels: i32, cin: i32,
  weights: usize, tapPop: usize, wLevels: i32, filters: i32, fPad: i32, k: i32, units: i32,
  coef: usize, bias: usize, bin: usize, out: usize, scratch: usize, next: usize, chunk: i32): i32 {
  const patch = scratch;
  const rowBuf = scratch + 2 * <usize>align16(aLevels * units * 8);
  let zeros = 0;
  for (let y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    const y1 = min(height, y0 + chunk);
    for (let y = y0; y < y1; y++) {
      const row = bin == 0 ? out + (<usize>(y * width * fPad) << 2) : rowBuf;
      binaryConvRow(act, pixels, height, width, words, aLevels, cin, weights, tapPop, wLevels, filters, fPad, k, units, coef, bias, y, patch, row);
      if (bin != 0) zeros += binariseWith(bin, row, y, width, fPad);
    }
  }
  return zeros;
}

/** xnorRows through binaryConvRowMasked (operands with exact-zero signs). */
export function xnorRowsMasked(act: usize, actNonzero: usize, pixels: i32, height: i32, width: i32, words: i32, aLevels: i32,
  weights: usize, weightsNonzero: usize, wLevels: i32, filters: i32, fPad: i32, k: i32, units: i32,
  coef: usize, bias: usize, bin: usize, out: usize, scratch: usize, next: usize, chunk: i32): i32 {
  const patch = scratch;
  const patchNonzero = scratch + <usize>align16(aLevels * units * 8);
  const rowBuf = patchNonzero + <usize>align16(aLevels * units * 8);
  let zeros = 0;
  for (let y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    const y1 = min(height, y0 + chunk);
    for (let y = y0; y < y1; y++) {
      const row = bin == 0 ? out + (<usize>(y * width * fPad) << 2) : rowBuf;
      binaryConvRowMasked(act, actNonzero, pixels, height, width, words, aLevels, weights, weightsNonzero, wLevels, filters, fPad, k, units, coef, bias, y, patch, patchNonzero, row);
      if (bin != 0) zeros += binariseWith(bin, row, y, width, fPad);
    }
  }
  return zeros;
}

/** Scratch bytes per thread for separableRows: 3 decoded input rows (a ring), the depthwise and pointwise rows, tables. */
export function separableScratchBytes(width: i32, cinPad: i32, fPad: i32, k: i32): i32 {
  return 4 * align16(width * cinPad * 4) + align16(width * fPad * 4) + align16(4 * k) + align16(8 * k * k);
}

/** One input channel group of a separable block (a concat has two), 6 words each: signs, nonzero, words, levels, gammas, channels. */
const GROUP_BYTES: usize = 24;

/** Decodes input row iy of every group into `dst` ([width][cinPad], groups' channels side by side). */
function decodeInputRow(groups: usize, nGroups: i32, iy: i32, width: i32, pixels: i32, cinPad: i32, dst: usize): void {
  let offset = 0;
  for (let i = 0; i < nGroups; i++) {
    const g = groups + <usize>i * GROUP_BYTES;
    const channels = load<i32>(g, 20);
    decodeRow(load<usize>(g), load<usize>(g, 4), pixels, load<i32>(g, 8), load<i32>(g, 12), load<usize>(g, 16), channels, iy * width, width, dst, cinPad, offset);
    offset += channels;
  }
}

/**
 * BinarySeparableConv2D + binarisation of the rows this thread claims. Decoded input rows live in
 * a 3-slot ring keyed by row index (k ≤ 3), so consecutive output rows decode each input row once.
 * pw = 0 (separableBinarise): no pointwise here; the depthwise row (unfused) + bias ([cinPad], the
 * depthwise bias) is binarised through `bin` (fPad = cinPad) and the host runs the pointwise as a
 * 1×1 XNOR conv on those signs.
 */
export function separableRows(groups: usize, nGroups: i32, height: i32, width: i32, cinPad: i32, k: i32, dw: usize, pw: usize,
  fPad: i32, bias: usize, bin: usize, scratch: usize, next: usize, chunk: i32): i32 {
  const rowBytes = <usize>align16(width * cinPad * 4);
  const dwRow = scratch + 3 * rowBytes;
  const pwRow = dwRow + rowBytes;
  const rowTable = pwRow + <usize>align16(width * fPad * 4);
  const tapTable = rowTable + <usize>align16(4 * k);
  const pixels = height * width;
  const before = (k - 1) >> 1;
  let tag0 = -1, tag1 = -1, tag2 = -1;
  let zeros = 0;
  for (let y0 = claim(next, chunk); y0 < height; y0 = claim(next, chunk)) {
    const y1 = min(height, y0 + chunk);
    for (let y = y0; y < y1; y++) {
      for (let ty = 0; ty < k; ty++) {
        const iy = y + ty - before;
        if (iy < 0 || iy >= height) {
          store<u32>(rowTable + (<usize>ty << 2), 0);
          continue;
        }
        const slot = iy % 3;
        const slotRow = scratch + <usize>slot * rowBytes;
        const tag = slot == 0 ? tag0 : slot == 1 ? tag1 : tag2;
        if (tag != iy) {
          decodeInputRow(groups, nGroups, iy, width, pixels, cinPad, slotRow);
          if (slot == 0) tag0 = iy; else if (slot == 1) tag1 = iy; else tag2 = iy;
        }
        store<u32>(rowTable + (<usize>ty << 2), <u32>slotRow);
      }
      if (pw == 0) {
        depthwiseRow(rowTable, k, width, cinPad, dw, dwRow, tapTable, false);
        for (let x = 0; x < width; x++) {
          const at = dwRow + (<usize>(x * cinPad) << 2);
          for (let c = 0; c < cinPad; c += 4) v128.store(at + (<usize>c << 2), f32x4.add(v128.load(at + (<usize>c << 2)), v128.load(bias + (<usize>c << 2))));
        }
        zeros += binariseWith(bin, dwRow, y, width, cinPad);
        continue;
      }
      depthwiseRow(rowTable, k, width, cinPad, dw, dwRow, tapTable);
      gemmRow(dwRow, width, cinPad, pw, fPad, bias, pwRow);
      zeros += binariseWith(bin, pwRow, y, width, fPad);
    }
  }
  return zeros;
}

/** maxPool over the output rows this thread claims. */
export function maxPoolRows(signs: usize, nonzero: usize, height: i32, width: i32, words: i32, levels: i32, channels: i32,
  rank: usize, outSigns: usize, outNonzero: usize, next: usize, chunk: i32): void {
  const oh = height >> 1;
  for (let y0 = claim(next, chunk); y0 < oh; y0 = claim(next, chunk)) maxPoolBand(signs, nonzero, height, width, words, levels, channels, rank, outSigns, outNonzero, y0, min(oh, y0 + chunk));
}

/**
 * maxPoolRows for the common case the host checks (wasm.ts, lexicographicRanks): no exact-zero
 * signs, at most 3 levels, and the values the codes decode to ordered like the sign bits read
 * level 0 first (γ₀ > γ₁ + γ₂ and γ₁ > γ₂ give that), with no two codes of equal value. Then
 * "larger value" is a bitwise lexicographic comparison, done for 32 channels per word at once.
 */
export function maxPoolOrderedRows(signs: usize, height: i32, width: i32, words: i32, levels: i32, outSigns: usize, next: usize, chunk: i32): void {
  const oh = height >> 1;
  const ow = width >> 1;
  const inLevel = <usize>(height * width * words) << 2;
  const outLevel = <usize>(oh * ow * words) << 2;
  for (let y0 = claim(next, chunk); y0 < oh; y0 = claim(next, chunk)) {
    const y1 = min(oh, y0 + chunk);
    for (let oy = y0; oy < y1; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        for (let w = 0; w < words; w++) {
          const first = signs + (<usize>((2 * oy * width + 2 * ox) * words + w) << 2);
          let b0 = load<u32>(first);
          let b1: u32 = levels > 1 ? load<u32>(first + inLevel) : 0;
          let b2: u32 = levels > 2 ? load<u32>(first + 2 * inLevel) : 0;
          for (let i = 1; i < 4; i++) {
            const at = first + (<usize>(((i >> 1) * width + (i & 1)) * words) << 2);
            const c0 = load<u32>(at);
            const c1: u32 = levels > 1 ? load<u32>(at + inLevel) : 0;
            const c2: u32 = levels > 2 ? load<u32>(at + 2 * inLevel) : 0;
            // Channels where the corner's code is greater, deciding at the first level that differs.
            const gt = (c0 & ~b0) | (~(c0 ^ b0) & ((c1 & ~b1) | (~(c1 ^ b1) & c2 & ~b2)));
            b0 = (b0 & ~gt) | (c0 & gt);
            b1 = (b1 & ~gt) | (c1 & gt);
            b2 = (b2 & ~gt) | (c2 & gt);
          }
          const out = outSigns + (<usize>((oy * ow + ox) * words + w) << 2);
          store<u32>(out, b0);
          if (levels > 1) store<u32>(out + outLevel, b1);
          if (levels > 2) store<u32>(out + 2 * outLevel, b2);
        }
      }
    }
  }
}
