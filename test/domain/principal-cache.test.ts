import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import type { Principal } from '../../src/domain/auth/auth.service.ts';
import { PrincipalCache } from '../../src/domain/auth/principal-cache.ts';
import { RedisClusterEvents, type ClusterEvent } from '../../src/stores/kv/cluster-events.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';
import { ManualClock, redisUrl } from '../helpers/server.ts';

const principal = (userId: number, via: Principal['via'], apiKeyId?: number): Principal => ({
  user: {
    id: userId,
    uuid: `u${userId}`,
    username: `user${userId}`,
    role: 'user',
    disabled: false,
    plan_id: null,
    created_at: '',
  },
  userId,
  role: 'user',
  via,
  apiKeyId,
});

function cacheWith(options: { maxEntries?: number; ttlMs?: number; trusted?: () => boolean } = {}) {
  const clock = new ManualClock();
  const cache = new PrincipalCache({
    maxEntries: options.maxEntries ?? 10,
    ttlMs: options.ttlMs ?? 30_000,
    clock,
    trusted: options.trusted ?? (() => true),
  });
  const put = (credential: string, value: Principal, expiresAt?: number) =>
    cache.set(cache.digest(credential), value, cache.begin(), expiresAt);
  const get = (credential: string) => cache.get(cache.digest(credential));
  return { cache, clock, put, get };
}

describe('principal cache', () => {
  test('keeps a principal until its TTL or the credential expiry, whichever is sooner', () => {
    const { clock, put, get } = cacheWith({ ttlMs: 30_000 });
    put('API_key', principal(1, 'api_key', 7));
    put('token', principal(1, 'access_token'), clock.now() + 5_000);
    assert.equal(get('API_key')?.apiKeyId, 7);
    clock.advance(5_000);
    assert.equal(get('token'), undefined, 'the access token expired');
    assert.ok(get('API_key'));
    clock.advance(25_000);
    assert.equal(get('API_key'), undefined, 'the TTL is over');
  });

  test('holds at most maxEntries, dropping the least recently used', () => {
    const { put, get, cache } = cacheWith({ maxEntries: 2 });
    put('a', principal(1, 'api_key', 1));
    put('b', principal(2, 'api_key', 2));
    get('a');
    put('c', principal(3, 'api_key', 3));
    assert.equal(cache.size, 2);
    assert.equal(get('b'), undefined);
    assert.ok(get('a') && get('c'));
    // Used several times in a row, then another: the order still follows the last use.
    get('a');
    get('a');
    get('c');
    put('d', principal(4, 'api_key', 4));
    assert.equal(get('a'), undefined);
    assert.ok(get('c') && get('d'));
  });

  test('events drop what they concern: revoked or changed keys, a disabled user, ended sign-ins, everything on resync', () => {
    const { cache, put, get } = cacheWith();
    const fill = () => {
      put('key-1', principal(1, 'api_key', 11));
      put('key-2', principal(2, 'api_key', 12));
      put('token-1', principal(1, 'access_token'));
      put('token-2', principal(2, 'access_token'));
    };
    const present = () => ['key-1', 'key-2', 'token-1', 'token-2'].filter((c) => get(c));
    const cases: Array<[ClusterEvent, string[]]> = [
      [{ type: 'keys-revoked', keyIds: [11] }, ['key-2', 'token-1', 'token-2']],
      [{ type: 'keys-changed', keyIds: [12] }, ['key-1', 'token-1', 'token-2']],
      [{ type: 'user-disabled', userId: 1 }, ['key-2', 'token-2']],
      [{ type: 'sign-ins-revoked', userId: 2 }, ['key-1', 'key-2', 'token-1']],
      [{ type: 'plans-changed' }, []],
      [{ type: 'resync' }, []],
    ];
    for (const [event, left] of cases) {
      fill();
      cache.apply(event);
      assert.deepEqual(present(), left, event.type);
    }
  });

  test('a lookup that began before a drop does not store what it read (it may be the revoked state)', () => {
    const { cache } = cacheWith();
    const digest = cache.digest('API_key');
    const generation = cache.begin();
    cache.apply({ type: 'keys-revoked', keyIds: [99] });
    cache.set(digest, principal(1, 'api_key', 5), generation);
    assert.equal(cache.get(digest), undefined);
  });

  test('serves nothing while events might be missed, and nothing when sized or timed to 0', () => {
    let trusted = true;
    const { put, get } = cacheWith({ trusted: () => trusted });
    put('API_key', principal(1, 'api_key', 1));
    trusted = false;
    assert.equal(get('API_key'), undefined);
    for (const off of [{ maxEntries: 0 }, { ttlMs: 0 }]) {
      const disabled = cacheWith(off);
      disabled.put('API_key', principal(1, 'api_key', 1));
      assert.equal(disabled.get('API_key'), undefined);
    }
  });
});

describe('cluster events over Redis', () => {
  test('reach every process sharing the prefix once, and no other prefix', async () => {
    const prefix = uniquePrefix();
    const open = (prefix: string) =>
      new RedisClusterEvents({ publisher: new Redis(redisUrl), subscriber: new Redis(redisUrl), prefix });
    const a = open(prefix);
    const b = open(prefix);
    const stranger = open(uniquePrefix());
    try {
      await Promise.all([a.ready(), b.ready(), stranger.ready()]);
      const seen = { a: [] as ClusterEvent[], b: [] as ClusterEvent[], stranger: [] as ClusterEvent[] };
      a.subscribe((event) => seen.a.push(event));
      const heardByB = new Promise<void>((resolve) =>
        b.subscribe((event) => {
          seen.b.push(event);
          if (event.type === 'user-disabled') resolve();
        }),
      );
      stranger.subscribe((event) => seen.stranger.push(event));
      assert.ok(a.listening() && b.listening());
      await a.publish({ type: 'keys-revoked', keyIds: [3, 4] });
      assert.deepEqual(seen.a, [{ type: 'keys-revoked', keyIds: [3, 4] }], 'applied locally before publish resolves');
      // Events from one publisher arrive in order: the second one marks the end of the first.
      await a.publish({ type: 'user-disabled', userId: 9 });
      await heardByB;
      assert.deepEqual(seen.b, [
        { type: 'keys-revoked', keyIds: [3, 4] },
        { type: 'user-disabled', userId: 9 },
      ]);
      assert.equal(seen.a.length, 2, 'a process does not apply its own events twice');
      assert.deepEqual(seen.stranger, []);
    } finally {
      await Promise.all([a.close(), b.close(), stranger.close()]);
      await deleteRedisPrefix(prefix);
    }
    assert.equal(a.listening(), false);
  });
});
