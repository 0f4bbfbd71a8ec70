import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseReference } from '../../src/domain/ids.ts';
import { decoyHash, hashPassword, verifyPassword } from '../../src/domain/users/passwords.ts';

describe('resource references', () => {
  test('an integer id, a UUID (any case), or neither', () => {
    assert.deepEqual(parseReference('42'), { id: 42 });
    assert.deepEqual(parseReference('6F1C2B3A-0D4E-4F5A-8B6C-7D8E9F0A1B2C'), {
      uuid: '6f1c2b3a-0d4e-4f5a-8b6c-7d8e9f0a1b2c',
    });
    for (const raw of [
      '0',
      '-1',
      '042',
      '1.5',
      '1e3',
      '9999999999999999',
      'alice',
      '',
      'not-a-uuid-at-all-0000-000000000000',
    ]) {
      assert.equal(parseReference(raw), undefined, raw);
    }
  });
});

describe('passwords', () => {
  test('are hashed with argon2id, salted, and verified', async () => {
    const first = await hashPassword('correct horse battery staple');
    const second = await hashPassword('correct horse battery staple');
    assert.match(first, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.notEqual(first, second, 'a fresh salt each time');
    assert.equal(await verifyPassword(first, 'correct horse battery staple'), true);
    assert.equal(await verifyPassword(first, 'Correct horse battery staple'), false);
    assert.equal(await verifyPassword('not a hash', 'anything'), false);
  });

  test('an unknown user is checked against a decoy hashed like every stored password, so it takes as long', async () => {
    const stored = await hashPassword('correct horse battery staple');
    const parameters = (hash: string) => hash.split('$').slice(1, 4).join('$');
    assert.equal(parameters(decoyHash), parameters(stored));
    assert.equal(await verifyPassword(decoyHash, 'correct horse battery staple'), false);
  });
});
