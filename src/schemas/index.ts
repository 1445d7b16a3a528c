import { createHash } from 'node:crypto';
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

export type ShippedSchemaName = 'pipeline' | 'overlay';

/** How every validator of these schemas is compiled, at build time and at run time alike. */
export const AJV_OPTIONS = { allErrors: true, strict: false, allowUnionTypes: true, verbose: true } as const;

/** A shipped schema with the hash of its text: a validator generated from another text is not used for it. */
export interface ShippedSchema {
  readonly name: ShippedSchemaName;
  readonly schema: object;
  readonly sha256: string;
}

function shipped(name: ShippedSchemaName): ShippedSchema {
  const text = schemaFile(`${name}.schema.json`);
  return { name, schema: JSON.parse(text) as object, sha256: createHash('sha256').update(text).digest('hex') };
}

export const SHIPPED_SCHEMAS: readonly ShippedSchema[] = [shipped('pipeline'), shipped('overlay')];
export const PIPELINE_SCHEMA: object = SHIPPED_SCHEMAS[0]!.schema;
export const OVERLAY_SCHEMA: object = SHIPPED_SCHEMAS[1]!.schema;

export function schemaPath(name: 'pipeline' | 'overlay'): string {
  return fileURLToPath(new URL(`../../../src/schemas/${name}.schema.json`, import.meta.url));
}
