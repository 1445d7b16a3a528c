/**
 * What the fuzzer does to a project between runs: hand edits and deletions of outputs and sources,
 * cache blob corruption. Each returns a description for the scenario's trace (or null when there was
 * nothing to act on).
 */
import { chmodSync, existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Damage } from './check.js';
import type { Scenario } from './generate.js';
import type { Rng } from './rng.js';

/** Files the steps wrote that exist now (outputs, and files inside directory outputs). */
function outputFiles(projectDir: string, scenario: Scenario): string[] {
  const files: string[] = [];
  for (const o of scenario.instances.flatMap((i) => i.outs)) {
    const rels = o.dir ? [`${o.path}/f0.txt`, `${o.path}/sub/f1.txt`] : [o.path];
    files.push(...rels.filter((r) => existsSync(path.join(projectDir, r))));
  }
  return files;
}

/** Appends a line, or rewrites the same number of bytes and puts the mtime back (what the stat cache must not miss). */
export function editOutput(rng: Rng, projectDir: string, scenario: Scenario): string | null {
  const files = outputFiles(projectDir, scenario);
  if (files.length === 0) return null;
  const rel = rng.pick(files);
  const abs = path.join(projectDir, rel);
  if (rng.chance(0.5)) {
    writeFileSync(abs, 'hand edit\n', { flag: 'a' });
    return `append to ${rel}`;
  }
  const before = statSync(abs);
  const bytes = readFileSync(abs);
  if (bytes.length === 0) return null;
  bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x20;
  writeFileSync(abs, bytes);
  utimesSync(abs, before.atime, before.mtime);
  return `same-size edit of ${rel}, mtime restored`;
}

export function deleteOutput(rng: Rng, projectDir: string, scenario: Scenario): string | null {
  const outs = scenario.instances.flatMap((i) => i.outs).filter((o) => existsSync(path.join(projectDir, o.path)));
  if (outs.length === 0) return null;
  const o = rng.pick(outs);
  rmSync(path.join(projectDir, o.path), { recursive: true, force: true });
  return `delete ${o.path}`;
}

export function editDirOutput(rng: Rng, projectDir: string, scenario: Scenario): string | null {
  const dirs = scenario.instances.flatMap((i) => i.outs).filter((o) => o.dir && existsSync(path.join(projectDir, o.path)));
  if (dirs.length === 0) return null;
  const o = rng.pick(dirs);
  if (rng.chance(0.5)) {
    writeFileSync(path.join(projectDir, o.path, 'stray.txt'), 'a file nobody declared\n');
    return `add ${o.path}/stray.txt`;
  }
  rmSync(path.join(projectDir, o.path, 'f0.txt'), { force: true });
  return `delete ${o.path}/f0.txt`;
}

export function editSource(rng: Rng, projectDir: string, counter: number): string {
  const rel = rng.pick(['data/src0.txt', 'data/src1.txt', 'data/srcdir/a.txt', 'data/srcdir/b/new.txt']);
  writeFileSync(path.join(projectDir, rel), `source edit ${counter}\n`);
  return `write ${rel}`;
}

/** Flips a byte of, truncates or deletes a random blob; the hash goes into `damage`. */
export function corruptBlob(rng: Rng, cacheDir: string, damage: Damage): string | null {
  const root = path.join(cacheDir, 'cas', 'sha256');
  const blobs = (existsSync(root) ? readdirSync(root) : []).flatMap((shard) =>
    readdirSync(path.join(root, shard)).map((rest) => shard + rest),
  );
  if (blobs.length === 0) return null;
  const hash = rng.pick(blobs);
  const abs = path.join(root, hash.slice(0, 2), hash.slice(2));
  const size = statSync(abs).size;
  const mode = size === 0 ? 'delete' : rng.pick(['flip', 'truncate', 'delete'] as const);
  if (mode === 'delete') rmSync(abs, { force: true });
  else {
    chmodSync(abs, 0o644);
    if (mode === 'truncate') truncateSync(abs, Math.floor(size / 2));
    else {
      const bytes = readFileSync(abs);
      const at = rng.int(0, size - 1);
      bytes[at] = bytes[at]! ^ 0x01;
      writeFileSync(abs, bytes);
    }
    chmodSync(abs, 0o444);
  }
  damage.hashes.add(hash);
  return `${mode} blob ${hash.slice(0, 12)}`;
}

/** Forgets damage the runtime has since repaired (the blob holds its bytes again). */
export function pruneDamage(cacheDir: string, damage: Damage, sha256File: (abs: string) => string): void {
  for (const hash of [...damage.hashes]) {
    const abs = path.join(cacheDir, 'cas', 'sha256', hash.slice(0, 2), hash.slice(2));
    if (existsSync(abs) && sha256File(abs) === hash) damage.hashes.delete(hash);
  }
}
