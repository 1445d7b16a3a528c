import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The shipped JSON Schemas (also usable by editors via `# yaml-language-server: $schema=…`). */
function schemaFile(name: string): string {
  // Compiled code runs from dist/src/schemas; the JSON files stay in src/schemas (shipped in the package).
  const candidates = [new URL(`./${name}`, import.meta.url), new URL(`../../../src/schemas/${name}`, import.meta.url)];
  for (const url of candidates) {
    try {
      return readFileSync(fileURLToPath(url), 'utf8');
    } catch {
      // try the next location
    }
  }
  throw new Error(`blu-pipe is installed incompletely: schema ${name} not found`);
}

export const PIPELINE_SCHEMA: object = JSON.parse(schemaFile('pipeline.schema.json')) as object;
export const OVERLAY_SCHEMA: object = JSON.parse(schemaFile('overlay.schema.json')) as object;

export function schemaPath(name: 'pipeline' | 'overlay'): string {
  return fileURLToPath(new URL(`../../../src/schemas/${name}.schema.json`, import.meta.url));
}
