#!/usr/bin/env node
// Toy regression study used by pipelines/examples/toy-regression.yaml. Plain Node, no dependencies.
// Reports progress and metrics to blu-pipe with `::blu::{json}` lines on stdout.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const [command, ...rest] = process.argv.slice(2);
const { values } = parseArgs({
  args: rest,
  options: Object.fromEntries(
    ['seed', 'samples', 'noise', 'out', 'in', 'test-fraction', 'model', 'epochs', 'lr', 'metrics', 'profile', 'sleep-ms'].map((k) => [
      k,
      { type: 'string' },
    ]),
  ),
});

const emit = (body) => console.log(`::blu::${JSON.stringify(body)}`);
const write = (file, text) => {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
};
function rng(seed) {
  let s = Number(seed) >>> 0 || 1;
  return () => (s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) >>> 0) / 2 ** 32;
}
const readCsv = (file) =>
  readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split(',').map(Number));
const toCsv = (rows) => `x,y\n${rows.map((r) => r.join(',')).join('\n')}\n`;
const features = { mean: () => [1], linear: (x) => [1, x], quadratic: (x) => [1, x, x * x] };
const predict = (w, f, x) => f(x).reduce((a, v, i) => a + v * w[i], 0);

const commands = {
  generate() {
    const r = rng(values.seed);
    const rows = Array.from({ length: Number(values.samples) }, () => {
      const x = r() * 4 - 2;
      return [x.toFixed(4), (0.5 * x * x - x + 1 + (r() - 0.5) * 2 * Number(values.noise)).toFixed(4)];
    });
    write(values.out, toCsv(rows));
  },
  split() {
    const rows = readCsv(values.in);
    const r = rng(values.seed);
    const test = rows.filter(() => r() < Number(values['test-fraction']));
    const train = rows.filter((row) => !test.includes(row));
    write(path.join(values.out, 'train.csv'), toCsv(train));
    write(path.join(values.out, 'test.csv'), toCsv(test));
    console.log(`split: ${train.length} train, ${test.length} test`);
  },
  profile() {
    const rows = readCsv(path.join(values.in, 'train.csv'));
    const ys = rows.map((r) => r[1]);
    const mean = ys.reduce((a, b) => a + b, 0) / ys.length;
    write(values.out, JSON.stringify({ rows: rows.length, mean_y: mean }, null, 2));
  },
  train() {
    const f = features[values.model];
    if (!f) throw new Error(`unknown model ${values.model}`);
    const rows = readCsv(path.join(values.in, 'train.csv'));
    const w = f(0).map(() => 0);
    const epochs = Number(values.epochs);
    for (let epoch = 1; epoch <= epochs; epoch++) {
      let loss = 0;
      for (const [x, y] of rows) {
        const err = predict(w, f, x) - y;
        loss += err * err;
        f(x).forEach((v, i) => (w[i] -= Number(values.lr) * err * v));
      }
      loss /= rows.length;
      emit({ progress: { label: 'epoch', current: epoch, total: epochs, metrics: { loss } } });
      emit({ metric: { name: 'train_mse', value: loss, step: epoch } });
    }
    if (values['sleep-ms']) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(values['sleep-ms']));
    write(values.out, JSON.stringify({ model: values.model, weights: w }));
  },
  evaluate() {
    const { model, weights } = JSON.parse(readFileSync(values.model, 'utf8'));
    const rows = readCsv(path.join(values.in, 'test.csv'));
    const mse = rows.reduce((a, [x, y]) => a + (predict(weights, features[model], x) - y) ** 2, 0) / rows.length;
    emit({ metric: { name: 'test_mse', value: mse, step: 0 } });
    write(values.out, JSON.stringify({ model, test_mse: mse }, null, 2));
  },
  report() {
    const files = readdirSync(values.metrics)
      .filter((f) => f.endsWith('.json'))
      .sort();
    const lines = [
      '| model | test MSE |',
      '|---|---|',
      ...files.map((f) => {
        const m = JSON.parse(readFileSync(path.join(values.metrics, f), 'utf8'));
        return `| ${m.model} | ${m.test_mse.toFixed(4)} |`;
      }),
    ];
    write(values.out, `# Toy regression\n\n${lines.join('\n')}\n`);
  },
};

if (!commands[command]) {
  console.error(`toy.mjs: unknown command '${command}'`);
  process.exit(2);
}
commands[command]();
