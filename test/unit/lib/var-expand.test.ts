// Dovecot variable expansion: the default UIDL format, user variables, modifiers and errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { varExpand, userVars, expandHome } from '../../../src/lib/var-expand.js';

test('pop3_uidl_format %08Xu%08Xv pads lower-case hex as Dovecot 2.3 prints it', () => {
  assert.equal(varExpand('%08Xu%08Xv', { u: 10, v: 1700000000 }), '0000000a6553f100');
  assert.equal(varExpand('%08Xu%08Xv', { u: 4294967295, v: 1 }), 'ffffffff00000001');
});

test('user variables and long names', () => {
  const vars = userVars('Alice@Example.org', '/home/alice');
  assert.equal(varExpand('/var/mail/%d/%n', vars), '/var/mail/Example.org/Alice');
  assert.equal(varExpand('%Lu', vars), 'alice@example.org');
  assert.equal(varExpand('%{user}|%{domain}|%{home}', vars), 'Alice@Example.org|Example.org|/home/alice');
  assert.equal(varExpand('%1n/%n', vars), 'A/Alice', 'a width without a leading 0 truncates');
  assert.equal(varExpand('100%%', vars), '100%');
});

test('an escape function applies to substituted values only', () => {
  assert.equal(varExpand('(uid=%u)', { u: 'a*b' }, (v) => v.replace(/\*/g, '\\2a')), '(uid=a\\2ab)');
});

test('unknown variables and malformed templates throw', () => {
  assert.throws(() => varExpand('%q', { u: 'x' }), /unknown variable %q/);
  assert.throws(() => varExpand('%{nope}', { u: 'x' }), /unknown variable/);
  assert.throws(() => varExpand('abc%', { u: 'x' }), /lone %/);
});

test('~ expands to the home directory', () => {
  assert.equal(expandHome('~/Maildir', '/home/a'), '/home/a/Maildir');
  assert.equal(expandHome('/srv/mail', undefined), '/srv/mail');
  assert.throws(() => expandHome('~/Maildir', undefined), /no home/);
});
