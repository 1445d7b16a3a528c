import { describe, expect, it } from 'vitest';
import { timeInRounds } from '../../src/steps/blu-net/impl/latency.js';

/** Timers that log their calls and return the given times in turn. */
function timers(names: string[], times: Record<string, number[]>, calls: string[]) {
  return names.map((name) => {
    let n = 0;
    return {
      once: async () => {
        calls.push(name);
        return times[name]?.[n++] ?? 0;
      },
    };
  });
}

describe('latency: timing in rounds', () => {
  it('calls every model once per round, warm-up rounds first, and returns each model’s times sorted', async () => {
    const calls: string[] = [];
    const rounds: number[] = [];
    const result = await timeInRounds(
      timers(['unet', 'lw_unet', 'packed'], { unet: [0, 30, 10, 20], lw_unet: [0, 3, 2, 1], packed: [0, 9, 7, 8] }, calls),
      { warmup: 1, runs: 3 },
      new AbortController().signal,
      (done) => rounds.push(done),
    );
    // 1 warm-up round + 3 timed rounds, each calling the models in order.
    expect(calls).toEqual(Array.from({ length: 4 }, () => ['unet', 'lw_unet', 'packed']).flat());
    expect(result).toEqual([
      [10, 20, 30],
      [1, 2, 3],
      [7, 8, 9],
    ]);
    expect(rounds).toEqual([1, 2, 3]);
  });

  it('stops after the round in which the step was cancelled', async () => {
    const abort = new AbortController();
    const result = await timeInRounds(timers(['a', 'b'], {}, []), { warmup: 0, runs: 5 }, abort.signal, (done) => {
      if (done === 2) abort.abort();
    });
    expect(result.map((t) => t.length)).toEqual([2, 2]);
  });
});
