/**
 * Build step (`npm run build`): generates validators for the shipped schemas with ajv's standalone
 * code, so that a run after an edit of a pipeline file neither loads ajv nor compiles the schema.
 * Writes dist/src/schemas/validators.cjs, with the hash of each schema's text it was made from.
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { AJV_OPTIONS, SHIPPED_SCHEMAS } from './index.js';

import AjvModule from 'ajv';

type Ajv = InstanceType<typeof AjvModule.default>;
const Ajv = AjvModule.default;
/** ajv's standalone code generator: module name → schema key in, CommonJS source out. */
const standaloneCode = (
  createRequire(import.meta.url)('ajv/dist/standalone') as { default: (ajv: Ajv, refs: Record<string, string>) => string }
).default;
const ajv: Ajv = new Ajv({ ...AJV_OPTIONS, code: { source: true } });
for (const { name, schema } of SHIPPED_SCHEMAS) ajv.addSchema(schema, name);
const code = standaloneCode(ajv, Object.fromEntries(SHIPPED_SCHEMAS.map(({ name }) => [name, name])));
const hashes = Object.fromEntries(SHIPPED_SCHEMAS.map(({ name, sha256 }) => [name, sha256]));
const target = fileURLToPath(new URL('./validators.cjs', import.meta.url));
writeFileSync(target, `${code}\nexports.sourceHashes = ${JSON.stringify(hashes)};\n`);
