import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type * as YamlModule from 'yaml';

// yaml and ajv cost ~100 ms to load; a no-op rerun of a cached pipeline needs neither, so they
// are loaded on first use (both ship CommonJS, which loads synchronously).
const require = createRequire(import.meta.url);
let yaml: typeof YamlModule | null = null;
let ajv: typeof AjvModule | null = null;

export function yamlLib(): typeof YamlModule {
  return (yaml ??= require('yaml') as typeof YamlModule);
}

export function ajvLib(): typeof AjvModule {
  return (ajv ??= require('ajv') as typeof AjvModule);
}
