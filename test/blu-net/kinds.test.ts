// The BLU-Net step kinds' planning side: schemas, pure declarations (outs, needs, resources), no
// TensorFlow.js at module top level, and the pure helpers of the implementations.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Ajv } from 'ajv';
import { builtinRegistry } from '../../src/steps/registry.js';
import { artifactPath, phaseSeed, safeStepId, trainSettings } from '../../src/steps/blu-net/common.js';
import { loopOptions } from '../../src/steps/blu-net/impl/training.js';
import { percentile } from '../../src/base/stats.js';

const registry = builtinRegistry();
const kind = (name: string) => {
  const k = registry.get(name);
  if (!k) throw new Error(`kind ${name} not registered`);
  return k;
};
const TRAIN = { steps: 20, val_every: 5, lr: 0.001, crop: 64 };

describe('blu-net step kinds', () => {
  it('registers every kind of the pipeline', () => {
    for (const name of ['dataset', 'pretrain', 'hint', 'binarise', 'ablation', 'evaluate', 'size', 'latency', 'report']) {
      expect(registry.names()).toContain(name);
    }
  });

  it('checks with: against the schema', () => {
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    const valid = (name: string, value: unknown) => ajv.validate(kind(name).withSchema, value);
    expect(valid('pretrain', { data: 'dataset', width: 4, train: TRAIN })).toBe(true);
    expect(valid('pretrain', { data: 'dataset', width: 4, train: { ...TRAIN, crop: 50 } })).toBe(false); // not a multiple of 16
    expect(valid('pretrain', { data: 'dataset', width: 4, train: { ...TRAIN, epoch: 3 } })).toBe(false); // typo
    expect(valid('pretrain', { data: 'dataset', width: 4, train: { lr: 0.001, crop: 64, epochs: 3 } })).toBe(false); // budgets are steps
    expect(valid('pretrain', { data: 'dataset', width: 4, train: { ...TRAIN, loss: 'bce_dice', max_minutes: 5 }, seed: 2 })).toBe(true);
    expect(valid('dataset', { layout: 'split-folders', path: 'd', derive: null })).toBe(true);
    expect(
      valid('dataset', {
        layout: 'split-folders',
        path: 'd',
        derive: { images: { train: 9, validation: 3, test: 3 }, width: 640, height: 480, zoom: 2 },
      }),
    ).toBe(true);
    expect(valid('dataset', { layout: 'split-folders', path: 'd', derive: { width: 640, height: 480, zoom: 2 } })).toBe(false); // images missing
    expect(valid('dataset', { layout: 'split-folders' })).toBe(false); // neither path nor url
    expect(valid('dataset', { layout: 'split-folders', url: 'https://example.org/x.zip' })).toBe(false); // url without sha256
    expect(valid('dataset', { layout: 'dic1', path: '../data', scale: 0.5, max_images: { train: 3 } })).toBe(true);
    expect(valid('ablation', { data: 'dataset', model: 'unet', width: 4, train: TRAIN })).toBe(false);
  });

  it('declares outputs under artifacts/<safe id>, the steps it reads from, and deps outside the project', () => {
    const d = kind('evaluate').declare({
      stepId: 'evaluate_scratch@model=lw_unet',
      name: 'evaluate_scratch',
      with: { data: 'dataset', model: 'ablation@model=lw_unet', crop: 64 },
    });
    expect(d.needs).toEqual(['dataset', 'ablation@model=lw_unet']);
    expect(d.outs.map((o) => o.path)).toEqual([
      'artifacts/evaluate_scratch_model_lw_unet/eval.json',
      'artifacts/evaluate_scratch_model_lw_unet/overlays',
    ]);
    expect(d.outs.every((o) => o.track && o.cache)).toBe(true);
    const data = kind('dataset').declare({
      stepId: 'dataset',
      name: 'dataset',
      with: { path: '../shared/data/bbbc030', layout: 'split-folders' },
    });
    expect(data.deps).toEqual(['../shared/data/bbbc030']);
    const pre = kind('pretrain').declare({
      stepId: 'pretrain',
      name: 'pretrain',
      with: { data: 'dataset', width: 4, init_weights: '', train: TRAIN },
    });
    expect(pre.deps).toEqual([]);
    expect(pre.needs).toEqual(['dataset']);
    const hint = kind('hint').declare({
      stepId: 'hint',
      name: 'hint',
      with: { data: 'dataset', teacher: 'pretrain', encoder: TRAIN, decoder: TRAIN, retrain: TRAIN },
    });
    expect(hint.needs).toEqual(['dataset', 'pretrain']);
  });

  it('makes latency run alone', () => {
    const d = kind('latency').declare({ stepId: 'latency', name: 'latency', with: { models: ['pretrain'], size: 64, runs: 3, warmup: 1 } });
    expect(d.resources).toEqual({ cpus: 'all' });
  });

  it('times either trained models or untrained ones at a given width', () => {
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    const valid = (value: unknown) => ajv.validate(kind('latency').withSchema, value);
    const timing = { size: 64, runs: 3, warmup: 1 };
    expect(valid({ ...timing, thesis_width: 64 })).toBe(true);
    expect(valid({ ...timing, models: ['pretrain'] })).toBe(true);
    expect(valid(timing)).toBe(false);
    const untrained = kind('latency').declare({ stepId: 'latency_thesis', name: 'latency_thesis', with: { ...timing, thesis_width: 64 } });
    expect(untrained.needs).toEqual([]);
  });

  it('times an untrained BLU-Net variant, packed only if asked', () => {
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    const valid = (value: unknown) => ajv.validate(kind('latency').withSchema, value);
    const variant = { size: 64, runs: 3, warmup: 1, thesis_width: 64, separable_binarise: true, simulation: false };
    expect(valid({ ...variant, levels: { activation: 3, conv: 1, depthwise: 1, pointwise: 1 } })).toBe(true);
    expect(valid({ ...variant, levels: { activation: 0 } })).toBe(false);
    expect(valid({ ...variant, levels: { bits: 2 } })).toBe(false);
    expect(valid({ ...variant, simulation: 'no' })).toBe(false);
  });

  it('keeps TensorFlow.js out of the definition modules (planning must stay cheap)', async () => {
    const dir = fileURLToPath(new URL('../../src/steps/blu-net/', import.meta.url));
    for (const file of ['index.ts', 'common.ts', 'dataset.ts', 'train-kinds.ts', 'measure-kinds.ts']) {
      const source = await readFile(path.join(dir, file), 'utf8');
      const staticImports = source.split('\n').filter((l) => /^import\s/.test(l) && !/^import type\s/.test(l));
      expect(
        staticImports.filter((l) => /tfjs|\/impl\/|\/ml\//.test(l)),
        file,
      ).toEqual([]);
    }
  });
});

describe('blu-net helpers', () => {
  it('turns instance ids into plain folder names', () => {
    expect(safeStepId('ablation@model=blu_net')).toBe('ablation_model_blu_net');
    expect(artifactPath('evaluate@source=hint', 'eval.json')).toBe('artifacts/evaluate_source_hint/eval.json');
  });

  it('fills the documented train defaults', () => {
    expect(trainSettings({ steps: 30, lr: 0.01, crop: 32 })).toMatchObject({
      steps: 30,
      val_every: 20,
      batch: 1,
      seed: 1,
      augment: true,
      sampler: 'uniform',
      best: 'val_iou',
    });
  });

  it('maps a step budget onto validation intervals and offsets phase seeds per run seed', () => {
    const s = trainSettings({ steps: 50, val_every: 20, lr: 0.01, crop: 32, ignore_steps: 40, lr_decay_start: 20, seed: 3 });
    expect(loopOptions(s)).toMatchObject({ epochs: 3, stepsPerEpoch: 20, totalSteps: 50, ignoreEpochs: 2, lrDecayStartEpoch: 1 });
    expect(phaseSeed(s, 1).seed).toBe(3);
    expect(phaseSeed(s, 3).seed).toBe(2003);
  });

  it('takes nearest-rank percentiles', () => {
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(percentile(sorted, 50)).toBe(5);
    expect(percentile(sorted, 95)).toBe(10);
    expect(percentile([7], 95)).toBe(7);
    expect(Number.isNaN(percentile([], 50))).toBe(true);
  });
});

describe('convergence rule and equal budget (issue 22)', () => {
  const CONVERGENCE = {
    max_steps: 1000,
    val_every: 50,
    val_crop: 512,
    smooth: 3,
    plateau: { patience: 100, min_delta: 0.005, lr_drops: 1, lr_factor: 0.5, min_steps: 300 },
  };

  it('checks the convergence block and the equal-budget fields against the schema', () => {
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    const valid = (value: unknown) => ajv.validate(kind('pretrain').withSchema, value);
    const base = { data: 'dataset', width: 4, train: TRAIN };
    expect(valid({ ...base, convergence: CONVERGENCE })).toBe(true);
    expect(valid({ ...base, convergence: null })).toBe(true);
    expect(valid({ ...base, convergence: { ...CONVERGENCE, max_steps: undefined } })).toBe(false);
    expect(valid({ ...base, convergence: { ...CONVERGENCE, plateau: { ...CONVERGENCE.plateau, lr_factor: 2 } } })).toBe(false);
    expect(valid({ ...base, continue_from: 'pretrain@seed=1', budget_of: 'binarise@seed=1' })).toBe(true);
    expect(valid({ ...base, init_weights: 'w', continue_from: 'pretrain@seed=1' })).toBe(false);
  });

  it('makes the equal-budget U-Net need the U-Net it continues and the model whose budget it matches', () => {
    const d = kind('pretrain').declare({
      stepId: 'pretrain_equal@seed=1',
      name: 'pretrain_equal',
      with: { data: 'dataset', width: 4, train: TRAIN, continue_from: 'pretrain@seed=1', budget_of: 'binarise@seed=1' },
    });
    expect(d.needs).toEqual(['dataset', 'pretrain@seed=1', 'binarise@seed=1']);
  });

  it('applies the rule to the scratch lw_unet only: the scratch BLU-Net trains (and is keyed) as before', () => {
    const ablation = kind('ablation');
    const w = (model: string, convergence: unknown) => ({ data: 'dataset', model, width: 4, train: TRAIN, convergence });
    const blu = ablation.effectiveWith?.(w('blu_net', CONVERGENCE) as never);
    expect(blu).toEqual(ablation.effectiveWith?.(w('blu_net', undefined) as never));
    const lw = ablation.effectiveWith?.(w('lw_unet', CONVERGENCE) as never) as { train: Record<string, unknown> };
    expect(lw.train).toMatchObject({ steps: 1000, val_every: 50, val_crop: 512, smooth: 3, lr: 0.001 });
  });

  it('accepts separable_binarise (a boolean) on binarise and ablation, and tracks it for the BLU-Net only', () => {
    const ajv = new Ajv({ strict: false, allowUnionTypes: true });
    const valid = (name: string, value: unknown) => ajv.validate(kind(name).withSchema, value);
    const binarise = { data: 'dataset', student: 'hint', train: TRAIN };
    expect(valid('binarise', { ...binarise, separable_binarise: true })).toBe(true);
    expect(valid('binarise', { ...binarise, separable_binarise: 'yes' })).toBe(false);
    const ablation = { data: 'dataset', width: 4, train: TRAIN, separable_binarise: false };
    expect(valid('ablation', { ...ablation, model: 'blu_net' })).toBe(true);
    const tracked = (model: string) => kind('ablation').effectiveWith?.({ ...ablation, model } as never) as Record<string, unknown>;
    expect(tracked('blu_net')['separable_binarise']).toBe(false);
    expect(tracked('lw_unet')).not.toHaveProperty('separable_binarise');
  });

  it('builds the BLU-Net of binarise and ablation with separable_binarise and the levels of with:, the thesis by default', async () => {
    const { bluOptions } = await import('../../src/steps/blu-net/impl/train-steps.js');
    expect(bluOptions(8, {}, 1)).toMatchObject({ baseFilters: 8, separableBinarise: false, activationLevels: 3, pointwiseLevels: 3 });
    const variant = bluOptions(8, { separable_binarise: true, levels: { activation: 1, pointwise: 2 } }, 1);
    expect(variant).toMatchObject({ separableBinarise: true, activationLevels: 1, convLevels: 3, pointwiseLevels: 2 });
  });

  it('converts the plateau rule from steps to validations', () => {
    const options = loopOptions({ ...trainSettings({ ...TRAIN, steps: 1000, val_every: 50 }), smooth: 3, plateau: CONVERGENCE.plateau });
    expect(options.smoothing).toEqual({ window: 3 });
    expect(options.plateau).toEqual({ patience: 2, minDelta: 0.005, lrDrops: 1, lrFactor: 0.5, minValidations: 6 });
    // A patience that is not a whole number of intervals rounds up.
    expect(loopOptions({ ...trainSettings({ ...TRAIN, val_every: 40 }), plateau: CONVERGENCE.plateau }).plateau?.patience).toBe(3);
  });
});
