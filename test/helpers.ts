// Shared paths for the tests. LETOR data is read from ../shared (never copied).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
export { mulberry32 as rng } from '../lib/random.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const sharedDir = process.env.ORDO_SHARED_DIR ?? join(repoRoot, '..', 'shared');
export const sharedData = join(sharedDir, 'data');
export const haveShared = existsSync(join(sharedData, 'README.md'));
export const cliPath = join(repoRoot, 'dist', 'cli.js');

/** Catches the error thrown by fn (fails if nothing is thrown). */
export function caught(fn: () => unknown): Error & { code?: string; file?: string; line?: number; column?: number } {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error, none was thrown');
}
