/** `--engine`: which kernels run the binary engine (light module: the CLI parses it before loading anything). */
export type EngineChoice = 'wasm' | 'native' | 'auto';
export const ENGINE_CHOICES: readonly EngineChoice[] = ['wasm', 'native', 'auto'];

export function isEngineChoice(value: string): value is EngineChoice {
  return (ENGINE_CHOICES as readonly string[]).includes(value);
}
