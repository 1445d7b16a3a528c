import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type * as YamlModule from 'yaml';
import type * as LexerModule from 'es-module-lexer';

// yaml and ajv cost ~100 ms to load (es-module-lexer a little); a no-op rerun of a cached pipeline needs neither, so they
// are loaded on first use (both ship CommonJS, which loads synchronously).
const require = createRequire(import.meta.url);
let yaml: typeof YamlModule | null = null;
let ajv: typeof AjvModule | null = null;
let lexer: typeof LexerModule | null = null;

export function yamlLib(): typeof YamlModule {
  return (yaml ??= require('yaml') as typeof YamlModule);
}

export function ajvLib(): typeof AjvModule {
  return (ajv ??= require('ajv') as typeof AjvModule);
}

/** Reads the imports of step kinds' modules (for their code hash); pipelines of `run:` steps never load it. */
export function moduleLexer(): typeof LexerModule {
  return (lexer ??= require('es-module-lexer') as typeof LexerModule);
}
