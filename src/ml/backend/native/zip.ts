import type { Readable } from 'node:stream';
import type { Entry, ZipFile } from 'yauzl';
import { err, ok, type Result } from '../../../base/result.js';

/**
 * Streams the entries of a zip that `wanted(name)` accepts to `save(name, stream)`, one at a time,
 * so a 270 MB wheel never sits in memory whole and unwanted entries are never inflated.
 */
export type ZipReader = (
  file: string,
  wanted: (name: string) => boolean,
  save: (name: string, stream: Readable) => Promise<void>,
) => Promise<Result<void, string>>;

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

async function openZip(file: string): Promise<Result<ZipFile, string>> {
  const yauzl = await import('yauzl');
  return new Promise((resolve) => {
    yauzl.open(file, { lazyEntries: true, autoClose: true }, (e, zip) => resolve(e ? err(message(e)) : ok(zip)));
  });
}

function openEntry(zip: ZipFile, entry: Entry): Promise<Readable> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (e, stream) => (e ? reject(e) : resolve(stream))));
}

export const readZipEntries: ZipReader = async (file, wanted, save) => {
  const opened = await openZip(file);
  if (!opened.ok) return opened;
  const zip = opened.value;
  return new Promise((resolve) => {
    zip.on('error', (e: unknown) => resolve(err(message(e))));
    zip.on('end', () => resolve(ok(undefined)));
    zip.on('entry', (entry: Entry) => {
      if (!wanted(entry.fileName)) return zip.readEntry();
      openEntry(zip, entry)
        .then((stream) => save(entry.fileName, stream))
        .then(() => zip.readEntry())
        .catch((e: unknown) => {
          zip.close();
          resolve(err(message(e)));
        });
    });
    zip.readEntry();
  });
};
