/**
 * A step worker must not outlive the runner that started it: an orphan would go on writing the step's
 * outputs while another run may own them. Its main thread can be busy for minutes in synchronous
 * TensorFlow work, during which neither signals nor timers run there (measured: no timer tick in 12 s
 * of tfjs-node matMul + `await data()`), so the check runs on a thread of its own.
 */
import { Worker } from 'node:worker_threads';

// CommonJS, evaluated by the thread. process.ppid is read live from the OS on every access.
const WATCH_SOURCE = `
const { workerData } = require('node:worker_threads');
setInterval(() => {
  if (process.ppid !== workerData.parent) process.kill(process.pid, 'SIGKILL');
}, workerData.everyMs);
`;

/**
 * Kills this process (SIGKILL: nothing more is written) as soon as its parent is gone. Returns the stop
 * function. The thread does not keep the process alive.
 */
export function exitWithParent(everyMs = 250): () => void {
  const worker = new Worker(WATCH_SOURCE, { eval: true, workerData: { parent: process.ppid, everyMs } });
  worker.unref();
  return () => void worker.terminate();
}
