import { afterEach, describe, expect, it } from 'vitest';
import { TempProject } from '../rig/project.js';

const projects: TempProject[] = [];
afterEach(() => projects.splice(0).forEach((p) => p.dispose()));

const write = (name: string, ms = 0): string =>
  `[node, -e, "setTimeout(() => require('fs').writeFileSync('${name}.txt', '${name}'), ${ms})"]`;

describe('scheduling order (real CLI)', () => {
  it('runs the critical path before side steps that became ready earlier', async () => {
    const p = new TempProject();
    projects.push(p);
    // With one slot, `head` runs first (deepest chain); the side steps queue while it runs. A step's
    // slot is handed on when its command exits, before its commit makes the next chain step ready,
    // so one side step may slip in per chain step; served in arrival order, all four would run first.
    const sides = ['side1', 'side2', 'side3', 'side4'];
    const lines = ['steps:', '  head:', `    run: ${write('head', 500)}`, '    outs: [head.txt]'];
    for (const [i, id] of ['chain1', 'chain2', 'chain3'].entries()) {
      lines.push(`  ${id}:`, `    needs: [${i === 0 ? 'head' : `chain${i}`}]`, `    run: ${write(id)}`, `    outs: [${id}.txt]`);
    }
    for (const id of sides) lines.push(`  ${id}:`, `    run: ${write(id, 300)}`, `    outs: [${id}.txt]`);
    p.write('p.yaml', `${lines.join('\n')}\n`);
    const result = await p.cli(['run', 'p.yaml', '--json', '--no-track', '-j', '1']);
    expect(result.exitCode).toBe(0);
    const starts = String(result.stdout)
      .split('\n')
      .filter((l) => l.includes('"type":"step-start"'))
      .map((l) => (JSON.parse(l) as { stepId: string }).stepId);
    expect(starts[0]).toBe('head');
    // chain1 and chain2 outrank the sides (chain3, with nothing after it, ranks with them).
    expect(starts.indexOf('chain1')).toBeLessThanOrEqual(2);
    expect(starts.indexOf('chain2')).toBeLessThanOrEqual(4);
    expect([...starts].sort()).toEqual(['chain1', 'chain2', 'chain3', 'head', ...sides]);
  });
  it('holds an exclusive step that needs nothing back until the more urgent work is done', async () => {
    const p = new TempProject();
    projects.push(p);
    // `alone` (cpus: all) is ready at once and the pool is idle; started first, it would hold up the
    // chain a → b for its whole run. Report needs both, so `alone` is no more urgent than b.
    p.write(
      'p.yaml',
      [
        'steps:',
        '  alone:',
        `    run: ${write('alone', 300)}`,
        '    outs: [alone.txt]',
        '    resources: { cpus: all }',
        '  a:',
        `    run: ${write('a', 300)}`,
        '    outs: [a.txt]',
        '  b:',
        '    needs: [a]',
        `    run: ${write('b', 300)}`,
        '    outs: [b.txt]',
        '  report:',
        '    needs: [alone, b]',
        `    run: ${write('report')}`,
        '    outs: [report.txt]',
        '',
      ].join('\n'),
    );
    const result = await p.cli(['run', 'p.yaml', '--json', '--no-track', '-j', '2']);
    expect(result.exitCode).toBe(0);
    const events = String(result.stdout)
      .split('\n')
      .filter((l) => l.includes('"type":"step-start"') || l.includes('"type":"step-end"'))
      .map((l) => JSON.parse(l) as { type: string; stepId: string })
      .map((e) => `${e.type === 'step-start' ? 'start' : 'end'} ${e.stepId}`);
    expect(events.indexOf('start alone')).toBeGreaterThan(events.indexOf('end b'));
    expect(events.at(-1)).toBe('end report');
  });
});
