import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type * as YamlModule from 'yaml';
import type * as PGraphModule from 'p-graph';

// yaml and ajv cost ~100 ms to load; a no-op rerun of a cached pipeline needs neither, so they
// are loaded on first use (both ship CommonJS, which loads synchronously).
const require = createRequire(import.meta.url);
let yaml: typeof YamlModule | null = null;
let ajv: typeof AjvModule | null = null;
let pGraph: typeof PGraphModule | null = null;

export function yamlLib(): typeof YamlModule {
  return (yaml ??= require('yaml') as typeof YamlModule);
}

export function ajvLib(): typeof AjvModule {
  return (ajv ??= require('ajv') as typeof AjvModule);
}

/**
 * p-graph (CommonJS) through require: every run needs it, but importing it as ESM took ~10 ms of a
 * ~200 ms no-op (the ESM loader lexes each CommonJS file for its exports), require ~3.5 ms.
 */
export function pGraphLib(): typeof PGraphModule {
  return (pGraph ??= require('p-graph') as typeof PGraphModule);
}
