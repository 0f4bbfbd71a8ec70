import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { displayPrefix, generateKey, looksLikeApiKey } from '../../src/domain/api-keys/api-keys.service.ts';
import { randomBase32 } from '../../src/domain/secrets.ts';

const crockford = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

describe('API key generation', () => {
  test("keys have the sessions dialect's form: API_ and eight groups of four base32 characters", () => {
    for (let i = 0; i < 200; i++) {
      const key = generateKey();
      assert.match(key, /^API_[0-9A-HJKMNP-TV-Z]{4}(_[0-9A-HJKMNP-TV-Z]{4}){7}$/);
      assert.ok(looksLikeApiKey(key));
    }
  });

  test('160 random bits; at least 128 stay secret after the displayed prefix', () => {
    const key = generateKey();
    const symbols = key.slice(4).replaceAll('_', '');
    assert.equal(symbols.length * 5, 160);
    const prefix = displayPrefix(key);
    assert.equal(prefix, key.slice(0, 8));
    const hidden = key.slice(prefix.length).replaceAll('_', '');
    assert.ok(hidden.length * 5 >= 128, `${hidden.length * 5} secret bits`);
  });

  test('randomBase32 uses the whole Crockford alphabet and repeats nothing', () => {
    const seen = new Set<string>();
    const used = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const value = randomBase32();
      assert.equal(value.length, 32);
      assert.ok(!seen.has(value));
      seen.add(value);
      for (const symbol of value) used.add(symbol);
    }
    assert.deepEqual([...used].sort().join(''), [...crockford].sort().join(''));
  });

  test('an access token or anything else is not taken for a key', () => {
    assert.ok(!looksLikeApiKey('eyJhbGciOiJIUzI1NiJ9.e30.x'));
    assert.ok(!looksLikeApiKey('api_lowercase'));
  });
});
