/**
 * Runs the engine's row-loop kernels (assembly/kernels.ts: firstRows, xnorRows, separableRows, …)
 * on several threads over one shared WebAssembly.Memory. The calling thread is thread 0 and
 * works too; threads 1… are worker_threads, each with its own instance of the same module on
 * the same memory. The kernels hand out rows through an atomic counter in that memory, so the
 * pool only starts a call everywhere and waits for it to end.
 *
 * `run` is synchronous: the caller blocks in Atomics.wait until every worker that joined the
 * call has finished, which keeps runEngine synchronous (Node allows Atomics.wait on the main
 * thread). Messages still reach the workers, which run their own event loops.
 */

// Minimal WebAssembly typings (the project's lib has none); only what the engine uses.
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export type WasmModule = object;
interface WasmApi {
  compile(bytes: Uint8Array): Promise<WasmModule>;
  validate(bytes: Uint8Array): boolean;
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: unknown };
}
export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The kernels' row-loop exports: all take numbers and return a number (exact-zero signs written; 0 for maxPoolRows). */
export type RowFunction = 'firstRows' | 'xnorRows' | 'xnorRowsMasked' | 'separableRows' | 'maxPoolRows' | 'maxPoolOrderedRows';
export type RowExports = Record<RowFunction, (...args: number[]) => number>;

export interface RowPool {
  readonly threads: number;
  /** Calls `name(...args(t))` on every thread t at once and returns the sum of the results. */
  run(name: RowFunction, args: (thread: number) => readonly number[]): number;
  /** Stops the workers (they are unref'd, so a process exits without this). */
  close(): Promise<void>;
}

// Control words (Int32Array over a SharedArrayBuffer): the call workers may still join (its
// generation, or CLOSED), workers inside a call, failure flag, per-thread results.
const OPEN = 0;
const ACTIVE = 1;
const FAILED = 2;
const RESULTS = 3;
const CLOSED = -1;

/**
 * The worker, as CommonJS source run with \`eval: true\`: it has to load the same way from the
 * TypeScript sources (tests) and from dist/, and it only dispatches calls into wasm. It counts
 * itself in, then checks the call is still open: a worker woken after the caller has finished
 * every row (a loaded machine can take milliseconds to schedule it) does nothing, and the caller
 * never waits for a worker that has not started, only for those inside the kernel.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const flags = new Int32Array(control);
parentPort.on('message', ({ generation, name, args }) => {
  Atomics.add(flags, ${ACTIVE}, 1);
  if (Atomics.load(flags, ${OPEN}) === generation) {
    try {
      Atomics.store(flags, ${RESULTS} + index, ex[name](...args) | 0);
    } catch (e) {
      Atomics.store(flags, ${FAILED}, 1);
    }
  }
  Atomics.sub(flags, ${ACTIVE}, 1);
  Atomics.notify(flags, ${ACTIVE});
});
parentPort.postMessage('ready');
`;

/** One thread: the caller's own instance. */
export function singleThreadPool(ex: RowExports): RowPool {
  return {
    threads: 1,
    run: (name, args) => ex[name](...args(0)),
    close: async () => undefined,
  };
}

/** `threads` − 1 workers beside the caller; resolves once every worker has instantiated the module. */
export async function workerPool(ex: RowExports, module: WasmModule, memory: WasmMemory, threads: number): Promise<RowPool> {
  const { Worker } = await import('node:worker_threads');
  const flags = new Int32Array(new SharedArrayBuffer(4 * (RESULTS + threads)));
  flags[OPEN] = CLOSED;
  const workers = Array.from({ length: threads - 1 }, (_, i) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control: flags.buffer, index: i + 1 } });
    worker.unref();
    return worker;
  });
  await Promise.all(
    workers.map(
      (w) =>
        new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        }),
    ),
  );

  /** Blocks until no worker is inside a call (the call is closed, so none can enter). */
  const waitForWorkers = () => {
    for (let active = Atomics.load(flags, ACTIVE); active !== 0; active = Atomics.load(flags, ACTIVE)) Atomics.wait(flags, ACTIVE, active);
  };
  let generation = 0;

  return {
    threads,
    run(name, args) {
      generation = (generation + 1) & 0x3fffffff;
      Atomics.store(flags, FAILED, 0);
      for (let t = 1; t < threads; t++) Atomics.store(flags, RESULTS + t, 0);
      Atomics.store(flags, OPEN, generation);
      workers.forEach((w, i) => w.postMessage({ generation, name, args: args(i + 1) }));
      let own: number;
      try {
        // Returns once every row is taken; workers still computing theirs are waited for below.
        own = ex[name](...args(0));
      } finally {
        Atomics.store(flags, OPEN, CLOSED);
        waitForWorkers();
      }
      if (Atomics.load(flags, FAILED) !== 0) throw new Error(`engine worker failed in ${name}`);
      let total = own;
      for (let t = 1; t < threads; t++) total += Atomics.load(flags, RESULTS + t);
      return total;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
