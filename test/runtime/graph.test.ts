import { describe, expect, it } from 'vitest';
import { schedulingPriorities } from '../../src/runtime/graph.js';

const step = (id: string, ...needs: string[]) => ({ id, needs });

describe('scheduling priorities', () => {
  // The shape of the BLU-Net pipeline after hint: binarise and the ablation are equally deep, but
  // binarise unblocks four steps and the ablation two.
  const steps = [
    step('hint'),
    step('binarise', 'hint'),
    step('ablation'),
    step('evaluate_binarise', 'binarise'),
    step('size', 'binarise'),
    step('latency', 'binarise'),
    step('evaluate_scratch', 'ablation'),
    step('report', 'evaluate_binarise', 'size', 'latency', 'evaluate_scratch'),
  ];

  it('puts the longer chain first, and of equally deep steps the one more steps wait for', () => {
    const p = schedulingPriorities(steps);
    expect(Math.floor(p.get('hint')!)).toBe(3);
    expect(Math.floor(p.get('binarise')!)).toBe(2);
    expect(Math.floor(p.get('ablation')!)).toBe(2);
    expect(p.get('binarise')!).toBeGreaterThan(p.get('ablation')!);
    expect(p.get('hint')!).toBeGreaterThan(p.get('binarise')!);
    expect(p.get('report')).toBe(0);
  });

  it('counts a step reached over several paths once', () => {
    const diamond = schedulingPriorities([step('a'), step('b', 'a'), step('c', 'a'), step('d', 'b', 'c')]);
    const wide = schedulingPriorities([step('a'), step('b', 'a'), step('c', 'a'), step('d', 'b'), step('e', 'c')]);
    expect((diamond.get('a')! - 2) * 5).toBeCloseTo(3);
    expect((wide.get('a')! - 2) * 6).toBeCloseTo(4);
  });
});
