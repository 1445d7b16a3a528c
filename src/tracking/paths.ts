/** Where a project keeps its local tracking records (a module of its own: a no-op reads one file there). */
import path from 'node:path';

export const trackingDir = (projectDir: string): string => path.join(projectDir, '.blu', 'tracking');
export const journalDir = (projectDir: string): string => path.join(trackingDir(projectDir), 'journal');
