import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The real BBBC030 copy: BLU_DATA_DIR, else ../shared/data/bbbc030 next to the project. */
export const dataDir = process.env.BLU_DATA_DIR ?? path.resolve(projectRoot, '../shared/data/bbbc030');
export const hasData = existsSync(path.join(dataDir, 'train', 'images'));

if (!hasData) {
  console.warn(`[blu-pipe tests] dataset not found at ${dataDir}; set BLU_DATA_DIR. Real-data tests are skipped.`);
}
