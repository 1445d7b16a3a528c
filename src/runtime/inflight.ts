import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readJsonFile } from '../artifacts/atomic.js';
import { stepFileName } from './layout.js';

/** Marker written when a step attempt starts and removed when it commits or fails cleanly. */
export interface InflightMarker {
  readonly stepId: string;
  readonly key: string;
  readonly runId: string;
  readonly pid: number;
  readonly host: string;
  readonly startedAt: string;
}

export function markerPath(inflightDir: string, stepId: string): string {
  return path.join(inflightDir, `${stepFileName(stepId)}.json`);
}

/**
 * Tiny, so written synchronously, and not fsynced: a marker only explains a crash (a killed process's writes survive in the page cache)
 * and a torn one reads as absent; one fsync pair per step is too dear for an explanation.
 */
export async function writeMarker(inflightDir: string, marker: InflightMarker): Promise<void> {
  const file = markerPath(inflightDir, marker.stepId);
  try {
    writeFileSync(file, JSON.stringify(marker));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    mkdirSync(inflightDir, { recursive: true });
    writeFileSync(file, JSON.stringify(marker));
  }
}

export async function removeMarker(inflightDir: string, stepId: string): Promise<void> {
  rmSync(markerPath(inflightDir, stepId), { force: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Markers left by attempts that never finished (the process died: SIGKILL, power loss).
 * Markers of live processes on this host belong to a concurrent run and are not reported.
 */
export async function incompleteAttempts(inflightDir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let names: string[];
  try {
    names = await readdir(inflightDir);
  } catch {
    return out;
  }
  for (const name of names.filter((n) => n.endsWith('.json'))) {
    const marker = await readJsonFile<InflightMarker>(path.join(inflightDir, name));
    if (!marker) continue;
    const alive = marker.host === os.hostname() && processAlive(marker.pid);
    if (!alive) out.set(marker.stepId, marker.runId);
  }
  return out;
}
