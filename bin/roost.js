#!/usr/bin/env node
// The `roost` command: runs the built daemon from dist/ (installed use, `npm run build`), unless a
// source file is newer than the build (a checkout being edited): then the sources run through tsx.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(root, 'dist', 'main.js');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

const src = join(root, 'src');
const useBuilt = existsSync(built) && process.env.ROOST_FROM_SOURCE !== '1' && (!existsSync(src) || newestSource(src) <= statSync(built).mtimeMs);
if (useBuilt) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(join(src, 'main.ts')).href);
}
