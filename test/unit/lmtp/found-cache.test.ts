// Recipient lookups remembered for a moment: found users are looked up once per burst, users not found are looked
// up again every time (a user added is found at once), and what was found is looked up again after the TTL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FoundCache } from '../../../src/protocols/lmtp/found-cache.js';

test('found recipients are remembered for the TTL, unknown ones never', async () => {
  const users = new Map<string, { user: string }>([['alice', { user: 'alice' }]]);
  let lookups = 0;
  const lookup = (name: string) => async () => {
    lookups++;
    return users.get(name) ?? null;
  };
  const cache = new FoundCache<{ user: string }>(60);
  assert.deepEqual(await cache.get('alice', lookup('alice')), { user: 'alice' });
  assert.deepEqual(await cache.get('alice', lookup('alice')), { user: 'alice' });
  assert.equal(lookups, 1, 'a burst for one user costs one lookup');

  assert.equal(await cache.get('bob', lookup('bob')), null);
  users.set('bob', { user: 'bob' });
  assert.deepEqual(await cache.get('bob', lookup('bob')), { user: 'bob' }, 'a user added is found at once');
  assert.equal(lookups, 3);

  users.delete('alice');
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(await cache.get('alice', lookup('alice')), null, 'a removed user is seen after the TTL');
  assert.equal(lookups, 4);
});
