/** Small filesystem helpers shared by the store, the action cache and gc. */
import { readdir } from 'node:fs/promises';
import { hasErrno } from './errors.js';

/** Directory listing, or [] when the directory does not exist (yet). */
export async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if (hasErrno(error, 'ENOENT')) return [];
    throw error;
  }
}
