import path from 'node:path';
import { readJsonFile, writeFileAtomic } from '../../artifacts/atomic.js';
import { canonicalJson, sha256Hex } from '../../artifacts/canonical.js';

/**
 * Remembers `with:` values that already passed their kind's schema, so a no-op rerun does not pay
 * for compiling every kind's schema again. Keyed by kind, kind version and the resolved value.
 */
export class ValidationMemo {
  #dirty = false;
  private constructor(
    readonly file: string | null,
    readonly known: Set<string>,
  ) {}

  static async open(dir: string | null): Promise<ValidationMemo> {
    if (!dir) return new ValidationMemo(null, new Set());
    const file = path.join(dir, 'with-validated.json');
    const list = await readJsonFile<string[]>(file);
    return new ValidationMemo(file, new Set(Array.isArray(list) ? list : []));
  }

  static key(kind: string, version: string, value: unknown): string | null {
    try {
      return sha256Hex(canonicalJson({ kind, version, value }));
    } catch {
      return null; // not canonicalisable (e.g. NaN): always validate
    }
  }

  has(key: string | null): boolean {
    return key !== null && this.known.has(key);
  }

  add(key: string | null): void {
    if (key === null || this.known.has(key)) return;
    this.known.add(key);
    this.#dirty = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    // Bounded: the newest entries are enough to make reruns fast.
    await writeFileAtomic(this.file, JSON.stringify([...this.known].slice(-5000)));
    this.#dirty = false;
  }
}
