/**
 * Content-addressed store: blobs under <cacheDir>/cas/sha256/ab/<rest>, named by the SHA-256 of
 * their bytes. Directory outputs are stored as a JSON manifest blob (TreeEntry[] sorted by path)
 * plus one blob per file. Blobs are read-only and only ever restored by copying, so nothing the
 * user does to a restored output can corrupt the cache. Every restore rehashes what it copies: a
 * blob damaged on disk is evicted and reported as 'corrupt-blob', and never reaches the workspace.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  createReadStream,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { chmod, lstat, mkdir, open, readFile, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { DeferredDirSync } from './atomic.js';
import { fsyncAsync, fsyncDirSync, tempSiblingPath, uniqueSuffix } from './atomic.js';
import { sha256Hex } from './canonical.js';
import { ArtifactError, hasErrno } from './errors.js';
import { readdirOrEmpty } from './fsx.js';
import { chunkSizeFor, isExecutableMode, isSha256, manifestJson, mapLimit, parseManifest, walkFiles } from './tree.js';
import type { StatCache } from './stat-cache.js';
import type { Sha256, StoredOutput, TreeEntry } from './types.js';

const PUT_CONCURRENCY = 4;
/** Files up to this size are stored from one read into memory instead of a streamed copy. */
const SMALL_FILE_BYTES = 1 << 20;
const RESTORE_CONCURRENCY = 4;
/** Blobs up to this size are read whole and verified before a byte is written; bigger ones stream. */
const VERIFY_IN_MEMORY_BYTES = 8 << 20;

export interface PutResult {
  readonly hash: Sha256;
  readonly size: number;
  readonly executable: boolean;
}

export interface PutPathOptions {
  statCache?: StatCache;
}

export interface ContentStoreOptions {
  /** Batches the directory fsyncs of new blobs (see DeferredDirSync); synced at once without it. */
  readonly dirSync?: DeferredDirSync;
}

export class ContentStore {
  readonly #blobRoot: string;
  /** Temp files live in the store's filesystem so the final rename is atomic. */
  readonly #tempDir: string;
  readonly #dirSync: DeferredDirSync | undefined;
  /** Directories this instance has created or seen, so a put does not mkdir each time. */
  readonly #madeDirs = new Set<string>();

  constructor(cacheDir: string, options: ContentStoreOptions = {}) {
    this.#blobRoot = join(cacheDir, 'cas', 'sha256');
    this.#tempDir = join(cacheDir, 'cas', 'tmp');
    this.#dirSync = options.dirSync;
  }

  get tempDir(): string {
    return this.#tempDir;
  }

  blobPath(hash: Sha256): string {
    return join(this.#blobRoot, hash.slice(0, 2), hash.slice(2));
  }

  /** Hashes while copying into a store temp file (one read of the source), then renames. */
  async putFile(absPath: string): Promise<PutResult> {
    const st = statSync(absPath);
    if (st.size <= SMALL_FILE_BYTES) return this.#putSmallFile(absPath, isExecutableMode(st.mode));
    const temp = this.#newTempPath();
    try {
      const { hash, size } = await copyHashing(absPath, temp, st.size, { durable: true });
      this.#commitTemp(temp, hash);
      return { hash, size, executable: isExecutableMode(st.mode) };
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  /**
   * Stores bytes already in memory (manifests, logs, small outputs). Every call but the fsync is
   * synchronous: creating, writing and renaming a small file are syscalls of microseconds, and a
   * thread-pool round trip each cost a step's commit more than the calls themselves.
   */
  async putBytes(data: string | Uint8Array): Promise<Sha256> {
    const hash = sha256Hex(data) as Sha256;
    if (this.#freshenIfPresent(hash)) return hash;
    const temp = this.#newTempPath();
    try {
      const fd = openSync(temp, 'wx', 0o444);
      try {
        writeFileSync(fd, data);
        await fsyncAsync(fd);
      } finally {
        closeSync(fd);
      }
      this.#commitTemp(temp, hash, true);
    } catch (error) {
      rmSync(temp, { force: true });
      // Writes through a descriptor carry no path: name the blob, so a full disk says where.
      if (error instanceof Error && (error as NodeJS.ErrnoException).path === undefined)
        (error as NodeJS.ErrnoException).path = this.blobPath(hash);
      throw error;
    }
    return hash;
  }

  /** One read, hashed in memory; the common case (a blob already stored) writes nothing. */
  async #putSmallFile(absPath: string, executable: boolean): Promise<PutResult> {
    const data = readFileSync(absPath);
    const hash = await this.putBytes(data);
    return { hash, size: data.length, executable };
  }

  /**
   * Stores a file or a whole directory. With `statCache`, every file read is also recorded there
   * (see StatCache.hashFileVia), so the next freshness check of these outputs needs no reread.
   */
  async putPath(projectDir: string, relPath: string, options: PutPathOptions = {}): Promise<StoredOutput> {
    const abs = insideProject(projectDir, relPath);
    const st = await stat(abs).catch((error: unknown) => {
      if (hasErrno(error, 'ENOENT')) throw new ArtifactError('missing-path', `output ${relPath} does not exist`);
      throw error;
    });
    const putOne = (path: string): Promise<PutResult> =>
      options.statCache === undefined ? this.putFile(path) : options.statCache.hashFileVia(path, (p) => this.putFile(p));
    if (st.isDirectory()) return this.#putDir(abs, relPath, putOne);
    if (!st.isFile()) throw new ArtifactError('unsupported-file-type', `cannot store special file ${relPath}`);
    const put = await putOne(abs);
    return { path: relPath, type: 'file', hash: put.hash, size: put.size, executable: put.executable };
  }

  async has(hash: Sha256): Promise<boolean> {
    try {
      return (await stat(this.blobPath(hash))).isFile();
    } catch {
      return false;
    }
  }

  /**
   * True when every blob the output needs (and, for trees, the manifest) is present. Every plan
   * verifies every cached output, so presence is a synchronous stat: one syscall of microseconds,
   * where the async one queues on libuv's thread pool (as StatCache.hashPath does).
   */
  async verify(output: StoredOutput): Promise<boolean> {
    if (output.type === 'file') return this.#hasNow(output.hash);
    const entries = await this.#tryReadTree(output.hash);
    if (entries === undefined) return false;
    return entries.every((e) => this.#hasNow(e.hash));
  }

  /** As `has`: any failure to stat (missing, unreadable) means absent. */
  #hasNow(hash: Sha256): boolean {
    try {
      return statSync(this.blobPath(hash), { throwIfNoEntry: false })?.isFile() === true;
    } catch {
      return false;
    }
  }

  /** Rejects with ArtifactError('missing-blob' | 'corrupt-blob' | 'corrupt-manifest'). */
  async readTree(hash: Sha256): Promise<TreeEntry[]> {
    let text: string;
    try {
      text = await readFile(this.blobPath(hash), 'utf8');
    } catch (error) {
      if (hasErrno(error, 'ENOENT')) throw new ArtifactError('missing-blob', `tree manifest ${hash} is not in the store`);
      throw error;
    }
    if (sha256Hex(text) !== hash) throw await this.#evictCorrupt(hash, 'a tree manifest', sha256Hex(text) as Sha256);
    const entries = parseManifest(text);
    if (entries === undefined) throw new ArtifactError('corrupt-manifest', `blob ${hash} is not a valid tree manifest`);
    return entries;
  }

  /**
   * Materialises an output. Files: copy to a temp sibling, then rename over the target, so the
   * target is never half-written. Directories: build a complete temp sibling tree, then swap it in
   * with two renames (the path is briefly absent, but never partial).
   */
  async restore(projectDir: string, output: StoredOutput): Promise<void> {
    const target = insideProject(projectDir, output.path);
    await mkdir(dirname(target), { recursive: true });
    if (output.type === 'file') {
      await this.#requireBlob(output.hash, output.path);
      const temp = tempSiblingPath(target);
      await this.#materialiseFile(output.hash, temp, output.executable === true, output.path).catch(async (error: unknown) => {
        await rm(temp, { force: true });
        throw error;
      });
      await replaceWith(target, temp);
      return;
    }
    await this.#restoreDir(target, output);
  }

  async *listBlobs(): AsyncIterable<{ hash: Sha256; size: number }> {
    for (const prefix of await readdirOrEmpty(this.#blobRoot)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of await readdirOrEmpty(join(this.#blobRoot, prefix))) {
        const hash = `${prefix}${rest}`;
        if (!isSha256(hash)) continue;
        const size = await stat(join(this.#blobRoot, prefix, rest)).then(
          (s) => s.size,
          () => undefined,
        );
        if (size !== undefined) yield { hash, size };
      }
    }
  }

  /** Deletes a blob; returns the bytes freed (0 if it was already gone). */
  async remove(hash: Sha256): Promise<number> {
    const path = this.blobPath(hash);
    try {
      const { size } = await stat(path);
      await unlink(path);
      return size;
    } catch (error) {
      if (hasErrno(error, 'ENOENT')) return 0;
      throw error;
    }
  }

  async #putDir(abs: string, relPath: string, putOne: (path: string) => Promise<PutResult>): Promise<StoredOutput> {
    const files = await walkFiles(abs);
    const entries = await mapLimit(files, PUT_CONCURRENCY, async (f): Promise<TreeEntry> => {
      const put = await putOne(f.abs);
      return { path: f.rel, hash: put.hash, size: put.size, executable: put.executable };
    });
    const hash = await this.putBytes(manifestJson(entries));
    const size = entries.reduce((sum, e) => sum + e.size, 0);
    return { path: relPath, type: 'dir', hash, size };
  }

  async #restoreDir(target: string, output: StoredOutput): Promise<void> {
    const entries = await this.readTree(output.hash);
    // Check everything first: a missing blob must fail before we touch the target.
    for (const e of entries) await this.#requireBlob(e.hash, `${output.path}/${e.path}`);
    const temp = tempSiblingPath(target);
    try {
      await mkdir(temp);
      await mapLimit(entries, RESTORE_CONCURRENCY, async (e) => {
        const dest = join(temp, ...e.path.split('/'));
        await mkdir(dirname(dest), { recursive: true });
        await this.#materialiseFile(e.hash, dest, e.executable, `${output.path}/${e.path}`);
      });
      await replaceWith(target, temp);
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Copies a blob to `dest` (a new temp path), checking its hash on the way: never a hardlink into
   * the store. Small blobs are verified before anything is written; a big one streams into `dest`,
   * which the caller deletes when this rejects, so wrong bytes never reach the real path.
   */
  async #materialiseFile(hash: Sha256, dest: string, executable: boolean, what: string): Promise<void> {
    const source = this.blobPath(hash);
    const { size } = await stat(source);
    const mode = executable ? 0o755 : 0o644;
    if (size <= VERIFY_IN_MEMORY_BYTES) {
      const bytes = await readFile(source);
      const actual = sha256Hex(bytes) as Sha256;
      if (actual !== hash) throw await this.#evictCorrupt(hash, what, actual);
      await writeFile(dest, bytes, { flag: 'wx', mode });
    } else {
      const copied = await copyHashing(source, dest, size, { durable: false });
      if (copied.hash !== hash) throw await this.#evictCorrupt(hash, what, copied.hash);
    }
    await chmod(dest, mode);
  }

  /** Removes a blob whose bytes do not match its name; the error tells the caller to recompute. */
  async #evictCorrupt(hash: Sha256, what: string, actual: Sha256): Promise<ArtifactError> {
    await this.remove(hash);
    return new ArtifactError(
      'corrupt-blob',
      `blob ${hash.slice(0, 12)}… for ${what} is corrupt (its bytes hash to ${actual.slice(0, 12)}…); removed it from the store`,
    );
  }

  async #requireBlob(hash: Sha256, what: string): Promise<void> {
    if (!(await this.has(hash))) throw new ArtifactError('missing-blob', `blob ${hash} for ${what} is not in the store`);
  }

  async #tryReadTree(hash: Sha256): Promise<TreeEntry[] | undefined> {
    try {
      return await this.readTree(hash);
    } catch {
      return undefined;
    }
  }

  #newTempPath(): string {
    this.#mkdirOnce(this.#tempDir);
    return join(this.#tempDir, `put-${process.pid}-${uniqueSuffix()}`);
  }

  /**
   * Dedup check that also bumps the blob's mtime: gc spares blobs younger than its grace period,
   * and a step re-putting an old blob needs it to survive until the step's AC entry exists.
   */
  #freshenIfPresent(hash: Sha256): boolean {
    const now = new Date();
    try {
      utimesSync(this.blobPath(hash), now, now);
      return true;
    } catch {
      return false;
    }
  }

  #mkdirOnce(dir: string): void {
    if (this.#madeDirs.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    this.#madeDirs.add(dir);
  }

  /**
   * Moves a complete, fsynced temp file into place; identical content already there wins. The
   * directory's fsync joins the batch when there is one.
   */
  #commitTemp(temp: string, hash: Sha256, checkedAndReadOnly = false): void {
    if (!checkedAndReadOnly && this.#freshenIfPresent(hash)) return; // dedup: the caller's finally removes the temp
    const dest = this.blobPath(hash);
    if (!checkedAndReadOnly) chmodSync(temp, 0o444);
    // A concurrent identical put may win: same bytes, harmless. ENOENT: the blob's shard directory
    // is new, or gc removed it; it is made then, so the common case costs no mkdir.
    try {
      renameSync(temp, dest);
    } catch (error) {
      if (!hasErrno(error, 'ENOENT')) throw error;
      mkdirSync(dirname(dest), { recursive: true });
      renameSync(temp, dest);
    }
    if (this.#dirSync) this.#dirSync.add(dirname(dest));
    else fsyncDirSync(dirname(dest));
  }
}

/** Copies `src` to a new file `dest`, returning the SHA-256 and size of the bytes read. */
async function copyHashing(
  src: string,
  dest: string,
  sizeHint: number,
  options: { durable: boolean },
): Promise<{ hash: Sha256; size: number }> {
  const hasher = createHash('sha256');
  let size = 0;
  const out = await open(dest, 'wx', 0o644);
  try {
    for await (const chunk of createReadStream(src, { highWaterMark: chunkSizeFor(sizeHint) })) {
      const bytes = chunk as Buffer;
      hasher.update(bytes);
      size += bytes.length;
      await out.write(bytes);
    }
    if (options.durable) await out.sync();
  } finally {
    await out.close();
  }
  return { hash: hasher.digest('hex') as Sha256, size };
}

/** Resolves a project-relative path, refusing anything that escapes the project directory. */
export function insideProject(projectDir: string, relPath: string): string {
  const root = resolve(projectDir);
  const abs = resolve(root, relPath);
  const rel = relative(root, abs);
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new ArtifactError('outside-project', `path ${relPath} is not inside the project ${root}`);
  }
  return abs;
}

/** Renames `temp` onto `target`; an existing directory (or a type change) is moved aside first. */
async function replaceWith(target: string, temp: string): Promise<void> {
  const existing = await lstat(target).catch(() => undefined);
  const tempIsDir = (await lstat(temp)).isDirectory();
  if (existing === undefined || (!existing.isDirectory() && !tempIsDir)) {
    await rename(temp, target);
    return;
  }
  const trash = `${tempSiblingPath(target)}-old`;
  await rename(target, trash);
  await rename(temp, target);
  await rm(trash, { recursive: true, force: true });
}
