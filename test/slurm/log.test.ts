import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogFollower, readLogTail } from '../../src/runtime/executors/slurm-log.js';
import { recordingReport } from './helpers.js';

describe('LogFollower', () => {
  it('forwards protocol lines written in pieces, including a split multi-byte character and a last line without newline', async () => {
    const log = path.join(mkdtempSync(path.join(tmpdir(), 'blu-log-')), 'job.log');
    const report = recordingReport();
    const follower = new LogFollower(log, report);
    await follower.drain(); // no file yet: the job has not started
    const line = Buffer.from('::blu::{"progress":{"message":"größe","current":1}}\n');
    const cut = line.indexOf(Buffer.from('ö')) + 1; // inside the two-byte ö
    writeFileSync(log, Buffer.concat([Buffer.from('plain output\n'), line.subarray(0, cut)]));
    await follower.drain();
    expect(report.progressSeen).toEqual([]);
    appendFileSync(log, line.subarray(cut));
    appendFileSync(log, '::blu::{"metric":{"name":"iou","value":"NaN","step":4}}');
    await follower.drain();
    expect(report.progressSeen).toEqual([{ message: 'größe', current: 1 }]);
    expect(report.metricsSeen).toEqual([]);
    await follower.finish();
    expect(report.metricsSeen).toEqual([{ name: 'iou', value: Number.NaN, step: 4 }]);
  });

  it('reads the last lines of a log, or nothing when it does not exist', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'blu-log-'));
    const log = path.join(dir, 'job.log');
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    lines.splice(95, 0, '::blu::{"progress":{"current":1}}'); // protocol lines are not part of the tail
    writeFileSync(log, lines.join('\n') + '\n');
    const tail = (await readLogTail(log, 30)).split('\n');
    expect(tail).toHaveLength(30);
    expect(tail[0]).toBe('line 70');
    expect(tail.at(-1)).toBe('line 99');
    expect(await readLogTail(path.join(dir, 'missing.log'))).toBe('');
  });
});
