import { open } from 'node:fs/promises';

/** The dynamic symbols of an ELF shared object, split into what it defines and what it needs. */
export interface DynamicSymbols {
  readonly defined: ReadonlySet<string>;
  readonly undefined: ReadonlySet<string>;
}

const SHT_DYNSYM = 11;
const SYMBOL_SIZE = 24; // Elf64_Sym

async function readRange(file: import('node:fs/promises').FileHandle, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  await file.read(buffer, 0, length, offset);
  return buffer;
}

interface Section {
  readonly type: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
}

async function sections(file: import('node:fs/promises').FileHandle, header: Buffer): Promise<Section[]> {
  const shoff = Number(header.readBigUInt64LE(0x28));
  const shentsize = header.readUInt16LE(0x3a);
  const shnum = header.readUInt16LE(0x3c);
  const table = await readRange(file, shoff, shentsize * shnum);
  return Array.from({ length: shnum }, (_, i) => {
    const at = i * shentsize;
    return {
      type: table.readUInt32LE(at + 4),
      offset: Number(table.readBigUInt64LE(at + 0x18)),
      size: Number(table.readBigUInt64LE(at + 0x20)),
      link: table.readUInt32LE(at + 0x28),
    };
  });
}

/**
 * Reads .dynsym of a 64-bit little-endian ELF file (Linux x86_64/arm64). Returns null for
 * anything else (another format, a truncated file): callers then skip the check, they do not fail.
 */
export async function dynamicSymbols(path: string): Promise<DynamicSymbols | null> {
  const file = await open(path, 'r');
  try {
    const header = await readRange(file, 0, 64);
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return null;
    const all = await sections(file, header);
    const dynsym = all.find((s) => s.type === SHT_DYNSYM);
    const dynstr = dynsym === undefined ? undefined : all[dynsym.link];
    if (dynsym === undefined || dynstr === undefined) return null;
    const symbols = await readRange(file, dynsym.offset, dynsym.size);
    const strings = await readRange(file, dynstr.offset, dynstr.size);
    const defined = new Set<string>();
    const needed = new Set<string>();
    for (let at = SYMBOL_SIZE; at + SYMBOL_SIZE <= symbols.length; at += SYMBOL_SIZE) {
      const nameOffset = symbols.readUInt32LE(at);
      const name = strings.toString('latin1', nameOffset, strings.indexOf(0, nameOffset));
      (symbols.readUInt16LE(at + 6) === 0 ? needed : defined).add(name);
    }
    return { defined, undefined: needed };
  } catch {
    return null;
  } finally {
    await file.close();
  }
}

/** Symbols every TensorFlow C API build exports; tfjs-node's binding cannot work without them. */
export const C_API_CORE = ['TF_Version', 'TF_NewStatus', 'TFE_NewContext', 'TFE_NewOp', 'TFE_Execute'] as const;

/** Which of `wanted` none of the libraries define (null: could not read them, so unknown). */
export async function missingSymbols(libraries: readonly string[], wanted: Iterable<string>): Promise<string[] | null> {
  const defined = new Set<string>();
  for (const lib of libraries) {
    const symbols = await dynamicSymbols(lib);
    if (symbols === null) return null;
    for (const name of symbols.defined) defined.add(name);
  }
  return [...wanted].filter((name) => !defined.has(name));
}
