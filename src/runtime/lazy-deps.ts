import { createRequire } from 'node:module';
import type * as AjvModule from 'ajv';
import type * as YamlModule from 'yaml';
import type * as LexerModule from 'es-module-lexer';
import type * as PGraphModule from 'p-graph';

// yaml and ajv cost ~100 ms to load (es-module-lexer a little); a no-op rerun of a cached pipeline needs neither, so they
// are loaded on first use (both ship CommonJS, which loads synchronously).
const require = createRequire(import.meta.url);
let yaml: typeof YamlModule | null = null;
let ajv: typeof AjvModule | null = null;
let lexer: typeof LexerModule | null = null;
let pGraph: typeof PGraphModule | null = null;

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

/**
 * p-graph (CommonJS) through require: every run needs it, but importing it as ESM took ~10 ms of a
 * ~200 ms no-op (the ESM loader lexes each CommonJS file for its exports), require ~3.5 ms.
 */
export function pGraphLib(): typeof PGraphModule {
  return (pGraph ??= require('p-graph') as typeof PGraphModule);
}
