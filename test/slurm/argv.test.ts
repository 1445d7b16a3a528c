import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildSbatchArgv,
  renderBatchScript,
  resourceArgs,
  safeFileStem,
  shellQuote,
  slurmJobName,
  timeLimitFromMs,
} from '../../src/runtime/executors/slurm-argv.js';
import { failureFromRecord, parseQueueStates, parseScontrolJob } from '../../src/runtime/executors/slurm-state.js';

const baseSpec = {
  id: 'train@model=lw_unet',
  projectDir: '/data/proj x',
  logPath: '/data/proj x/.blu/runs/r1/logs/train.log',
  timeoutMs: null,
  resources: {},
};

describe('sbatch argv builder', () => {
  it('maps every declared resource, then step extras, then executor extras, then the script', () => {
    const argv = buildSbatchArgv({
      spec: {
        ...baseSpec,
        resources: { cpus: 4, mem: '8G', gpus: 1, time: '01:00:00', partition: 'gpu', sbatch: ['--qos=long', '--constraint=a100'] },
      },
      scriptPath: '/data/proj x/.blu/runs/r1/specs/t.sbatch',
      extraSbatchArgs: ['--account=lab'],
    });
    expect(argv).toEqual([
      '--parsable',
      '--job-name=blu:proj_x/train@model=lw_unet',
      '--output=/data/proj x/.blu/runs/r1/logs/train.log',
      '--error=/data/proj x/.blu/runs/r1/logs/train.log',
      '--chdir=/data/proj x',
      '--no-requeue',
      '--cpus-per-task=4',
      '--mem=8G',
      '--gpus=1',
      '--time=01:00:00',
      '--partition=gpu',
      '--qos=long',
      '--constraint=a100',
      '--account=lab',
      '/data/proj x/.blu/runs/r1/specs/t.sbatch',
    ]);
  });

  it('escapes % in log paths so sbatch does not expand %j and friends', () => {
    const argv = buildSbatchArgv({ spec: { ...baseSpec, logPath: '/p/100%j/x.log' }, scriptPath: '/s', extraSbatchArgs: [] });
    expect(argv).toContain('--output=/p/100%%j/x.log');
    expect(argv).toContain('--error=/p/100%%j/x.log');
  });

  it("maps cpus 'all' to --exclusive and falls back to the timeout for --time", () => {
    expect(resourceArgs({ cpus: 'all' }, 90_500)).toEqual(['--exclusive', '--time=1:31']);
    expect(resourceArgs({ time: '5' }, 90_500)).toEqual(['--time=5']);
    expect(resourceArgs({ custom: { gpu: 1 } }, null)).toEqual([]);
  });

  it('formats time limits as minutes:seconds, rounding up', () => {
    expect(timeLimitFromMs(1)).toBe('0:01');
    expect(timeLimitFromMs(60_000)).toBe('1:00');
    expect(timeLimitFromMs(7_200_001)).toBe('120:01');
  });

  it('keeps job names and file stems free of shell and squeue separators', () => {
    expect(slurmJobName({ projectDir: '/p/my proj', id: 'a b|c;$(x)' })).toBe('blu:my_proj/a_b_c___x_');
    const stem = safeFileStem('a/b');
    expect(stem).toMatch(/^a_b-[0-9a-f]{8}$/);
    expect(safeFileStem('a_b')).not.toBe(stem);
  });
});

describe('batch script', () => {
  it('quotes hostile paths so the shell runs exactly the intended argv', () => {
    const dir = mkdtempSync(path.join(tmpdir(), "blu-quote-'$(touch pwned)` "));
    const entry = path.join(dir, 'entry.mjs');
    writeFileSync(entry, 'console.log(JSON.stringify(process.argv.slice(2)));\n');
    const specPath = path.join(dir, "spec 'x'.json");
    const scriptPath = path.join(dir, 'job.sh');
    writeFileSync(scriptPath, renderBatchScript(process.execPath, entry, specPath));
    const out = execFileSync('/bin/sh', [scriptPath], { cwd: dir, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual(['exec-step', specPath]);
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });
});

describe('Slurm state parsing', () => {
  it('reads JobState, ExitCode and Reason from scontrol -o', () => {
    const line = 'JobId=4 JobName=wrap JobState=FAILED Reason=NonZeroExitCode Dependency=(null) ExitCode=3:0 RunTime=00:00:01';
    expect(parseScontrolJob(line)).toEqual({ state: 'FAILED', reason: 'NonZeroExitCode', exitCode: 3, signal: 0 });
    expect(parseScontrolJob('garbage')).toBeNull();
    expect(parseQueueStates('12|RUNNING\n13|PENDING\n')).toEqual(
      new Map([
        ['12', 'RUNNING'],
        ['13', 'PENDING'],
      ]),
    );
  });

  it('maps terminal states to failure reasons', () => {
    const rec = (state: string, exitCode = 0, signal = 0) => ({ state, reason: 'None', exitCode, signal });
    expect(failureFromRecord(rec('COMPLETED'), '1', false)).toBeNull();
    expect(failureFromRecord(rec('FAILED', 3), '1', false)).toMatchObject({ reason: 'exit-non-zero', exitCode: 3, jobId: '1' });
    expect(failureFromRecord(rec('FAILED', 0, 9), '1', false)?.reason).toBe('signal');
    expect(failureFromRecord(rec('CANCELLED', 0, 15), '1', true)?.reason).toBe('cancelled');
    expect(failureFromRecord(rec('CANCELLED', 0, 15), '1', false)).toMatchObject({
      reason: 'signal',
      message: expect.stringMatching(/outside blu-pipe/),
    });
    expect(failureFromRecord(rec('TIMEOUT', 0, 15), '1', false)?.reason).toBe('timeout');
    expect(failureFromRecord(rec('OUT_OF_MEMORY', 0, 9), '1', false)?.reason).toBe('out-of-memory');
    expect(failureFromRecord(rec('NODE_FAIL'), '1', false)?.reason).toBe('node-fail');
    expect(failureFromRecord(rec('BOOT_FAIL'), '1', false)?.reason).toBe('node-fail');
    expect(failureFromRecord(rec('PREEMPTED'), '1', false)?.message).toMatch(/preempted/);
  });
});
