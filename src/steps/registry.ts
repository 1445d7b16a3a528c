import { BLU_NET_KINDS } from './blu-net/index.js';
import { StepKindRegistry } from '../runtime/kinds/kind.js';

/** Every step kind shipped with blu-pipe (usable as `uses: <name>`). */
export function builtinRegistry(): StepKindRegistry {
  const registry = new StepKindRegistry();
  for (const kind of BLU_NET_KINDS) registry.register(kind);
  return registry;
}
