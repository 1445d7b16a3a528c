/** The BLU-Net thesis step kinds (definitions only; implementations load lazily). */
import type { StepKindDefinition } from '../../runtime/kinds/kind.js';
import { datasetKind } from './dataset.js';
import { evaluateKind, latencyKind, reportKind, sizeKind } from './measure-kinds.js';
import { paretoKind } from './pareto-kind.js';
import { predictKind } from './predict-kind.js';
import { ablationKind, binariseKind, hintKind, pretrainKind } from './train-kinds.js';

export const BLU_NET_KINDS: readonly StepKindDefinition[] = [
  datasetKind,
  pretrainKind,
  hintKind,
  binariseKind,
  ablationKind,
  evaluateKind,
  sizeKind,
  latencyKind,
  reportKind,
  paretoKind,
  predictKind,
];
