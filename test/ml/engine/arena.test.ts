import { describe, expect, it } from 'vitest';
import { Arena } from '../../../src/ml/engine/wasm.js';

/** A growable memory like the engines' (growing replaces the buffer, as a wasm memory's does). */
function memory() {
  let bytes = new Uint8Array(65536);
  return {
    get buffer(): ArrayBuffer {
      return bytes.buffer;
    },
    grow(pages: number) {
      const before = bytes.byteLength / 65536;
      const grown = new Uint8Array(bytes.byteLength + pages * 65536);
      grown.set(bytes);
      bytes = grown;
      return before;
    },
  };
}

describe('the engines’ arena', () => {
  it('hands out zeroed buffers on cache-line (64-byte) boundaries, so 512-bit loads never straddle two lines', () => {
    const mem = memory();
    new Uint8Array(mem.buffer).fill(7);
    const arena = new Arena(mem, 4);
    const offsets = [3, 100, 64, 1, 70000].map((bytes) => [arena.alloc(bytes), bytes] as const);
    for (const [at, bytes] of offsets) {
      expect(at % 64).toBe(0);
      expect(new Uint8Array(mem.buffer, at, bytes).every((b) => b === 0)).toBe(true);
    }
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(offsets.at(-1)![0] + 70000);
  });

  it('gives every thread its own cache-line-aligned scratch', () => {
    const arena = new Arena(memory(), 0);
    const scratch = arena.perThread(3, 100);
    expect([0, 1, 2].map(scratch)).toEqual([0, 128, 256]);
  });
});
