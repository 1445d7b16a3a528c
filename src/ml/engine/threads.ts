/**
 * Runs the engine's row-loop kernels (assembly/kernels.ts: firstRows, xnorRows, separableRows, …)
 * on several threads over one shared WebAssembly.Memory. The calling thread is thread 0 and
 * works too; threads 1… are worker_threads, each with its own instance of the same module on
 * the same memory. The kernels hand out rows through an atomic counter in that memory, so the
 * pool only starts a call everywhere and waits for it to end.
 *
 * `run` is synchronous: the caller blocks in Atomics.wait until every worker has finished, which
 * keeps runEngine synchronous (Node allows Atomics.wait on the main thread). Messages still reach
 * the workers, which run their own event loops.
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

// Control words (Int32Array over a SharedArrayBuffer): workers still running, failure flag, per-thread results.
const PENDING = 0;
const FAILED = 1;
const RESULTS = 2;

/**
 * The worker, as CommonJS source run with `eval: true`: it has to load the same way from the
 * TypeScript sources (tests) and from dist/, and it only dispatches calls into wasm.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { module, memory, control, index } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
const flags = new Int32Array(control);
parentPort.on('message', ({ name, args }) => {
  let result = 0;
  try {
    result = ex[name](...args) | 0;
  } catch (e) {
    Atomics.store(flags, ${FAILED}, 1);
  }
  Atomics.store(flags, ${RESULTS} + index, result);
  Atomics.sub(flags, ${PENDING}, 1);
  Atomics.notify(flags, ${PENDING});
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
  const workers = Array.from({ length: threads - 1 }, (_, i) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, memory, control: flags.buffer, index: i + 1 } });
    worker.unref();
    return worker;
  });
  await Promise.all(workers.map((w) => new Promise<void>((resolve, reject) => {
    w.once('message', () => resolve());
    w.once('error', reject);
  })));

  /** Blocks until no worker is still running the current call. */
  const waitForWorkers = () => {
    for (let pending = Atomics.load(flags, PENDING); pending !== 0; pending = Atomics.load(flags, PENDING)) Atomics.wait(flags, PENDING, pending);
  };

  return {
    threads,
    run(name, args) {
      Atomics.store(flags, PENDING, workers.length);
      Atomics.store(flags, FAILED, 0);
      workers.forEach((w, i) => w.postMessage({ name, args: args(i + 1) }));
      let own: number;
      try {
        own = ex[name](...args(0));
      } finally {
        // Even when this thread's share failed, the workers still write the memory: wait for them.
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
