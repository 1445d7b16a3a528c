// Pinned BBBC030: the project's manifest against the team folder (../shared, pixel by pixel), and
// the fetch (download, SHA-256 check, transform, pixel check) against a real HTTP server on loopback
// serving fixture sources made like the public ones (RGB, three equal channels; masks as they are).
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pixelHash, pngChannel0 } from '../../src/ml/data/png-channel.js';
import { fetchPinned, parseManifest, type SourcesManifest } from '../../src/steps/blu-net/impl/sources.js';
import { REPO, TempProject } from '../rig/project.js';

const SHARED = path.resolve(REPO, process.env.BLU_DATA_DIR ?? '../shared/data/bbbc030');
const MANIFEST_FILE = path.join(REPO, 'src/steps/blu-net/bbbc030-sources.tsv');
const skip = existsSync(path.join(SHARED, 'SOURCES.tsv')) ? null : `${SHARED} absent`;
if (skip) console.warn(`[pinned data tests skipped] ${skip}`);

const manifestText = readFileSync(MANIFEST_FILE, 'utf8');
const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');
const sharedFile = (split: string, role: string, name: string): string =>
  path.join(SHARED, split, role === 'image' ? 'images' : 'masks', name);

/** Channel 0 as sharp (libvips) decodes it: an independent reader for the pixel-exact checks. */
async function sharpChannel0(file: string): Promise<Buffer> {
  return sharp(file).extractChannel(0).raw().toBuffer();
}

describe.skipIf(skip !== null)('the project manifest of BBBC030', () => {
  it("copies every row of the team folder's SOURCES.tsv, and its pixel hashes are the folder's pixels", async () => {
    const parsed = parseManifest(manifestText, 'bbbc030-sources.tsv');
    if (!parsed.ok) throw new Error(parsed.error);
    const shared = readFileSync(path.join(SHARED, 'SOURCES.tsv'), 'utf8')
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t'));
    expect(parsed.value.rows).toHaveLength(shared.length);
    expect(parsed.value.repo).toBe('Nelson-Gon/cytounet');
    parsed.value.rows.forEach((row, i) =>
      expect([row.split, row.role, row.name, row.sourcePath, row.sourceSha256]).toEqual(shared[i]!.slice(0, 5)),
    );
    for (const row of parsed.value.rows) {
      const file = sharedFile(row.split, row.role, row.name);
      const channel = pngChannel0(readFileSync(file));
      if (!channel.ok) throw new Error(channel.error);
      expect(pixelHash(channel.value), file).toBe(row.pixelsSha256);
      // The reader the hashes rely on agrees with libvips on every file.
      expect(Buffer.from(channel.value.data).equals(await sharpChannel0(file)), file).toBe(true);
    }
  }, 120_000);
});

/** One file per split and role, as the public repository serves them. */
const PICK = ['cho21.png', 'cho01.png', 'cho41.png'];

interface Fixture {
  readonly manifest: string;
  readonly files: Map<string, Buffer>; // URL path → bytes
}

async function makeFixture(): Promise<Fixture> {
  const full = parseManifest(manifestText, 'bbbc030-sources.tsv');
  if (!full.ok) throw new Error(full.error);
  const rows = full.value.rows.filter((r) => PICK.includes(r.name));
  const files = new Map<string, Buffer>();
  const lines = [
    'repo\tNelson-Gon/cytounet',
    `commit\t${full.value.commit}`,
    'split\trole\tname\tsource_path\tsource_sha256\ttransform\tpixels_sha256',
  ];
  for (const row of rows) {
    const file = sharedFile(row.split, row.role, row.name);
    // Sources: images are RGB with three equal channels; masks are served as they are.
    const bytes = row.role === 'image' ? await sharp(file).toColourspace('srgb').png().toBuffer() : readFileSync(file);
    files.set(`/Nelson-Gon/cytounet/${full.value.commit}/${row.sourcePath}`, bytes);
    lines.push(
      [
        row.split,
        row.role,
        row.name,
        row.sourcePath,
        sha256(bytes),
        row.transform === 'channel0' ? 'channel 0 of the RGB PNG, written as 8-bit grayscale' : 'as is (8-bit, 0 and 255)',
        row.pixelsSha256,
      ].join('\t'),
    );
  }
  return { manifest: `${lines.join('\n')}\n`, files };
}

/** A real server on 127.0.0.1; `fail` answers a path with a status (once or always) instead of its bytes. */
class FixtureServer {
  readonly requests: string[] = [];
  readonly fail = new Map<string, { status: number; times: number }>();
  readonly replace = new Map<string, Buffer>();
  #server: Server | null = null;

  constructor(readonly files: ReadonlyMap<string, Buffer>) {}

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      const url = req.url ?? '';
      this.requests.push(url);
      const failure = this.fail.get(url);
      if (failure && failure.times > 0) {
        failure.times--;
        return void res.writeHead(failure.status).end();
      }
      const bytes = this.replace.get(url) ?? this.files.get(url);
      if (!bytes) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/{repo}/{commit}/{path}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}

describe.skipIf(skip !== null)('fetching a pinned data set (real HTTP server on loopback)', () => {
  let fixture: Fixture;
  let manifest: SourcesManifest;
  let server: FixtureServer;
  let urlPattern = '';
  const dirs: string[] = [];
  const tempDir = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'blu-pinned-'));
    dirs.push(dir);
    return dir;
  };
  const options = (cacheDir: string) => ({
    cacheDir,
    urlPattern,
    signal: new AbortController().signal,
    log: () => undefined,
    backoffMs: 10,
  });

  beforeAll(async () => {
    fixture = await makeFixture();
    const parsed = parseManifest(fixture.manifest, 'fixture.tsv');
    if (!parsed.ok) throw new Error(parsed.error);
    manifest = parsed.value;
  });
  afterEach(async () => {
    await server.close();
    dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
  });
  const serve = async (): Promise<FixtureServer> => {
    server = new FixtureServer(fixture.files);
    urlPattern = await server.start();
    return server;
  };

  it("downloads once, checks every hash, and yields exactly the team folder's pixels", async () => {
    await serve();
    const cache = tempDir();
    const made = await fetchPinned(manifest, sha256(fixture.manifest), options(cache));
    if (!made.ok) throw new Error(made.error);
    expect(server.requests).toHaveLength(6);
    for (const row of manifest.rows) {
      const got = path.join(made.value, row.split, row.role === 'image' ? 'images' : 'masks', row.name);
      expect((await sharpChannel0(got)).equals(await sharpChannel0(sharedFile(row.split, row.role, row.name))), got).toBe(true);
      if (row.role === 'image') expect((await sharp(got).metadata()).channels, got).toBe(1); // 8-bit grayscale
    }
    // Once: the folder is reused, and the downloads alone would rebuild it without the network.
    expect((await fetchPinned(manifest, sha256(fixture.manifest), options(cache))).ok).toBe(true);
    rmSync(path.join(cache, 'datasets'), { recursive: true });
    expect((await fetchPinned(manifest, sha256(fixture.manifest), options(cache))).ok).toBe(true);
    expect(server.requests).toHaveLength(6);
  });

  it('retries a server error, and names the URL when a file cannot be had; nothing partial is left', async () => {
    await serve();
    const [first, second] = [...fixture.files.keys()];
    server.fail.set(first!, { status: 503, times: 1 });
    const cache = tempDir();
    expect((await fetchPinned(manifest, 'a'.repeat(64), options(cache))).ok).toBe(true);
    expect(server.requests.filter((r) => r === first)).toHaveLength(2);

    server.fail.set(second!, { status: 404, times: 99 });
    const other = tempDir();
    const missing = await fetchPinned(manifest, 'b'.repeat(64), options(other));
    expect(missing.ok ? '' : missing.error).toBe(
      `could not download ${urlPattern.replace('/{repo}/{commit}/{path}', second!)}: HTTP 404 (set BLU_DATA_URL to a mirror, or data_dir to a local copy)`,
    );
    expect(readdirSync(path.join(other, 'datasets'))).toEqual([]);
  });

  it('keeps no file whose bytes differ from the pinned SHA-256', async () => {
    await serve();
    const [first] = [...fixture.files.keys()];
    server.replace.set(first!, Buffer.concat([fixture.files.get(first!)!, Buffer.from('x')]));
    const cache = tempDir();
    const made = await fetchPinned(manifest, 'c'.repeat(64), options(cache));
    expect(made.ok ? '' : made.error).toMatch(
      new RegExp(
        `^http://127\\.0\\.0\\.1:\\d+${first!.replace(/[.]/g, '\\.')}: SHA-256 [0-9a-f]{64} does not match the pinned [0-9a-f]{64}; nothing was kept$`,
      ),
    );
    const row = manifest.rows.find((r) => first!.endsWith(r.sourcePath))!;
    expect(existsSync(path.join(cache, 'downloads', 'sha256', row.sourceSha256))).toBe(false);
    expect(readdirSync(path.join(cache, 'datasets'))).toEqual([]);
  });

  it('the dataset step of a pipeline whose folder is absent fetches the pinned set (real CLI)', async () => {
    await serve();
    const p = new TempProject();
    dirs.push(p.dir);
    p.write('sources.tsv', fixture.manifest);
    p.write(
      'p.yaml',
      `steps:
  dataset:
    uses: dataset
    with: { path: ../no-such-folder, sources: sources.tsv, layout: split-folders, scale: 0.25 }
`,
    );
    const run = await p.cli(['run', 'p.yaml', '--no-track'], { BLU_DATA_URL: urlPattern });
    expect(run.exitCode, run.stderr).toBe(0);
    for (const split of ['train', 'validation', 'test'])
      expect(readdirSync(p.path(`artifacts/dataset/data/${split}/images`))).toHaveLength(1);
    // A folder with other pixels is refused, with what to do about it.
    const other = p.write('other/train/images/cho21.png', '');
    rmSync(other);
    p.write(
      'q.yaml',
      `steps:
  dataset:
    uses: dataset
    with: { path: other, sources: sources.tsv, layout: split-folders }
`,
    );
    const refused = await p.cli(['run', 'q.yaml', '--no-track'], { BLU_DATA_URL: urlPattern });
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(
      "is missing (the pinned data set lists it). other is not the data set sources.tsv pins; to use other data, set the step's 'sources' to null",
    );
  }, 120_000);
});
