// The daemon's Node options: `npm start` (package.json) and the systemd unit start it with the same ones, and the
// daemon's ready line reports what it runs with (docs/operations.md, "Node options").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { daemonNodeOptions, repoRoot, startRoost } from '../helpers/roost.js';

test('npm start runs the daemon with single-threaded GC', () => {
  assert.ok(daemonNodeOptions().includes('--single-threaded-gc'), `npm start passes ${JSON.stringify(daemonNodeOptions())}`);
});

test('the systemd unit passes the Node options npm start passes', () => {
  const unit = readFileSync(join(repoRoot, 'scripts', 'systemd', 'roost.service'), 'utf8');
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1]?.trim().split(/\s+/) ?? [];
  assert.match(execStart[0] ?? '', /\/node$/);
  assert.deepEqual(execStart.slice(1, execStart.indexOf('/opt/roost/bin/roost.js')), daemonNodeOptions());
});

test('the ready line reports the Node options the daemon runs with', async () => {
  const roost = await startRoost();
  try {
    const ready = JSON.parse(roost.output.find((l) => l.includes('"msg":"ready"'))!) as { nodeOptions: string[]; node: string };
    assert.equal(ready.node, process.version);
    for (const option of daemonNodeOptions()) assert.ok(ready.nodeOptions.includes(option), `${option} in ${JSON.stringify(ready.nodeOptions)}`);
  } finally {
    await roost.stop();
  }
});
