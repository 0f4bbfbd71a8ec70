import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AppError } from '../../src/domain/errors.ts';
import { Redis } from 'ioredis';
import { locate, streamLeaseMs } from '../../src/domain/limits/limit-definitions.ts';
import { redisUrl } from '../helpers/server.ts';
import { backends, gateFor, keyActor, request, tally } from './helpers.ts';

for (const backend of backends) {
  describe(`limits gate on the ${backend} backend`, () => {
    let ctx: Awaited<ReturnType<typeof gateFor>>;
    before(async () => {
      ctx = await gateFor(backend);
    });
    after(() => ctx.cleanup());

    /** The current value of one of a key's counters. */
    const counter = async (
      keyId: number,
      name: 'tokens_per_day' | 'requests_per_day' | 'budget_per_month',
      userId = 3,
    ) => {
      const { key } = locate(ctx.prefix, { scope: 'key', userId, keyId }, name, ctx.clock.now());
      return (await ctx.counters.read([{ kind: 'counter', key }], ctx.clock.now()))[0]!;
    };

    test('a key limited to 50 requests a day lets exactly 50 of 200 concurrent requests through', async () => {
      ctx.limits.keys.set(101, { requests_per_day: 50 });
      const { admitted, refused } = await tally(
        Array.from({ length: 200 }, () => ctx.gate.admit(request(keyActor(101)))),
      );
      assert.equal(admitted.length, 50);
      assert.equal(refused.length, 150);
      for (const error of refused) {
        assert.ok(error instanceof AppError && error.code === 'rate_limited', String(error));
        assert.equal(error.headers['x-ratelimit-scope'], 'key.requests_per_day');
        assert.equal(error.headers['x-ratelimit-limit'], '50');
        assert.equal(error.headers['x-ratelimit-remaining'], '0');
        // ManualClock starts at 12:00 UTC: twelve hours to midnight.
        assert.equal(error.headers['retry-after'], String(12 * 3600));
        assert.equal(error.headers['x-ratelimit-reset'], String(12 * 3600));
      }
      const remaining = admitted.map((a) => Number(a.headers['x-ratelimit-remaining'])).sort((a, b) => a - b);
      assert.deepEqual(
        remaining,
        Array.from({ length: 50 }, (_, i) => i),
        'each admission saw its own remaining count',
      );
      await Promise.all(admitted.map((a) => a.settle({ tokens: 0, costMicros: 0 })));
      assert.equal(await counter(101, 'requests_per_day'), 50);
    });

    test('concurrent streams never spend past a token budget, and at least one that fits runs', async () => {
      const budget = 1000;
      ctx.limits.keys.set(102, { tokens_per_day: budget });
      let spent = 0;
      let served = 0;
      // Three waves of 40 concurrent calls, each reserving 20 prompt + 80 max tokens.
      for (let wave = 0; wave < 3; wave++) {
        const { admitted, refused } = await tally(
          Array.from({ length: 40 }, () =>
            ctx.gate.admit(request(keyActor(102), { reserveTokens: 100, stream: true })),
          ),
        );
        assert.ok(
          refused.every(
            (e) =>
              e instanceof AppError &&
              e.code === 'rate_limited' &&
              e.headers['x-ratelimit-scope'] === 'key.tokens_per_day',
          ),
        );
        // Streams stop early (cancelled or short answers): 20 prompt tokens plus 0..80 produced.
        await Promise.all(
          admitted.map((admission, i) => {
            const used = 20 + ((i * 37 + wave * 11) % 81);
            spent += used;
            return admission.settle({ tokens: used, costMicros: 0 });
          }),
        );
        served += admitted.length;
      }
      assert.ok(served >= 1, 'a request that fits is allowed');
      assert.ok(spent <= budget, `spent ${spent} of ${budget}`);
      assert.equal(
        await counter(102, 'tokens_per_day'),
        spent,
        'the counter holds what was used, not what was reserved',
      );
    });

    test('a cancelled stream is charged only what it produced', async () => {
      ctx.limits.keys.set(103, { tokens_per_day: 10_000 });
      const admission = await ctx.gate.admit(request(keyActor(103), { reserveTokens: 4096, stream: true }));
      assert.equal(await counter(103, 'tokens_per_day'), 4096, 'the worst case is reserved up front');
      await admission.settle({ tokens: 57, costMicros: 0 });
      assert.equal(await counter(103, 'tokens_per_day'), 57);
      await admission.settle({ tokens: 4000, costMicros: 0 });
      assert.equal(await counter(103, 'tokens_per_day'), 57, 'a second settle changes nothing');
    });

    test('a request whose worst case does not fit is refused, and one that can shrink gets a smaller grant', async () => {
      ctx.limits.keys.set(104, { tokens_per_day: 300 });
      await assert.rejects(ctx.gate.admit(request(keyActor(104), { reserveTokens: 500 })), (error: AppError) => {
        assert.equal(error.code, 'rate_limited');
        assert.match(error.message, /needs 500 tokens, more than key\.tokens_per_day allows/);
        return true;
      });
      const shrunk = await ctx.gate.admit(request(keyActor(104), { reserveTokens: 500, promptTokens: 40 }));
      assert.equal(shrunk.maxCompletionTokens, 260);
      assert.equal(await counter(104, 'tokens_per_day'), 300);
      await assert.rejects(
        ctx.gate.admit(request(keyActor(104), { reserveTokens: 50, promptTokens: 10 })),
        /has 0 left/,
      );
      await shrunk.settle({ tokens: 100, costMicros: 0 });
      const next = await ctx.gate.admit(request(keyActor(104), { reserveTokens: 150, promptTokens: 10 }));
      assert.equal(next.maxCompletionTokens, undefined, 'the whole worst case fits again');
      await next.settle({ tokens: 0, costMicros: 0 });
    });

    test('concurrent streams are counted while open and freed on settle; plain requests do not count', async () => {
      ctx.limits.keys.set(105, { concurrent_streams: 2 });
      const streams = await Promise.all([1, 2].map(() => ctx.gate.admit(request(keyActor(105), { stream: true }))));
      await assert.rejects(ctx.gate.admit(request(keyActor(105), { stream: true })), (error: AppError) => {
        assert.equal(error.headers['x-ratelimit-scope'], 'key.concurrent_streams');
        assert.equal(error.headers['retry-after'], '1');
        return true;
      });
      const plain = await ctx.gate.admit(request(keyActor(105), { stream: false }));
      await plain.settle({ tokens: 0, costMicros: 0 });
      await streams[0]!.settle({ tokens: 0, costMicros: 0 });
      const third = await ctx.gate.admit(request(keyActor(105), { stream: true }));
      await Promise.all([streams[1]!.settle({ tokens: 0, costMicros: 0 }), third.settle({ tokens: 0, costMicros: 0 })]);
    });

    test('a monthly budget reserves the worst-case cost and settles to the real cost', async () => {
      ctx.limits.user = { budget_per_month: 0.001 }; // 1000 micro-units
      const actor = { userId: 50, role: 'user' as const };
      const first = await ctx.gate.admit(request(actor, { reserveCostMicros: 600 }));
      await assert.rejects(ctx.gate.admit(request(actor, { reserveCostMicros: 600 })), (error: AppError) => {
        assert.equal(error.headers['x-ratelimit-scope'], 'user.budget_per_month');
        assert.equal(error.headers['x-ratelimit-limit'], '0.001');
        assert.equal(error.headers['x-ratelimit-remaining'], '0.0004');
        return true;
      });
      await first.settle({ tokens: 0, costMicros: 300 });
      const second = await ctx.gate.admit(request(actor, { reserveCostMicros: 600 }));
      await second.settle({ tokens: 0, costMicros: 600 });
      ctx.limits.user = null;
    });

    test("a plan's limit counts every key of the user; a refusal by one limit reserves nothing on the others", async () => {
      ctx.limits.user = { requests_per_day: 3 };
      ctx.limits.keys.set(106, { requests_per_day: 10 });
      const userId = 60;
      const results = await tally(
        [106, 107, 106, 107, 106].map((keyId) => ctx.gate.admit(request(keyActor(keyId, userId)))),
      );
      assert.equal(results.admitted.length, 3);
      assert.ok(results.refused.every((e: AppError) => e.headers['x-ratelimit-scope'] === 'user.requests_per_day'));
      const on106 = await counter(106, 'requests_per_day', userId);
      assert.ok(on106 <= 3, `key 106 counted ${on106}: refused requests must not be counted on the key`);
      ctx.limits.user = null;
    });

    test('limits reset at the UTC minute, day and month boundaries', async () => {
      const clock = ctx.clock;
      clock.set(Date.parse('2026-01-31T23:59:58.500Z'));
      ctx.limits.keys.set(108, { requests_per_minute: 2, requests_per_day: 3, tokens_per_month: 100 });
      const call = (tokens = 0) => ctx.gate.admit(request(keyActor(108), { reserveTokens: tokens }));
      await (await call(60)).settle({ tokens: 60, costMicros: 0 });
      await (await call(40)).settle({ tokens: 40, costMicros: 0 });
      await assert.rejects(call(), (error: AppError) => {
        assert.equal(error.headers['x-ratelimit-scope'], 'key.requests_per_minute');
        assert.equal(error.headers['retry-after'], '2');
        return true;
      });
      clock.set(Date.parse('2026-01-31T23:59:59.999Z'));
      await assert.rejects(call(), /requests_per_minute/);
      // Midnight, and a new month: the minute, the day and the month all start again.
      clock.set(Date.parse('2026-02-01T00:00:00.000Z'));
      const fresh = await call(100);
      assert.equal(fresh.headers['x-ratelimit-scope'], 'key.tokens_per_month');
      assert.equal(fresh.headers['x-ratelimit-remaining'], '0');
      await fresh.settle({ tokens: 100, costMicros: 0 });
      await assert.rejects(call(1), /tokens_per_month/);
      clock.set(Date.parse('2026-02-01T00:01:00.000Z'));
      await (await call()).settle({ tokens: 0, costMicros: 0 });
      await (await call()).settle({ tokens: 0, costMicros: 0 });
      // Both the minute and the day are used up: the answer names the one that frees up last.
      await assert.rejects(call(), (error: AppError) => {
        assert.equal(error.headers['x-ratelimit-scope'], 'key.requests_per_day');
        assert.equal(error.headers['retry-after'], String(24 * 3600 - 60));
        return true;
      });
    });

    test('a stream whose node died frees its slot once its lease expires', async () => {
      ctx.clock.set(Date.parse('2026-01-15T12:00:00.000Z'));
      ctx.limits.keys.set(109, { concurrent_streams: 1 });
      await ctx.gate.admit(request(keyActor(109), { stream: true })); // never settled: its node "died"
      await assert.rejects(ctx.gate.admit(request(keyActor(109), { stream: true })), /concurrent_streams/);
      ctx.clock.advance(streamLeaseMs + 1);
      const next = await ctx.gate.admit(request(keyActor(109), { stream: true }));
      await next.settle({ tokens: 0, costMicros: 0 });
    });

    if (backend === 'redis') {
      test('every Redis key it writes expires: counters after their window, lease sets after the lease', async () => {
        ctx.clock.set(Date.parse('2026-01-15T23:00:00.000Z'));
        ctx.limits.keys.set(110, { requests_per_day: 10, concurrent_streams: 2 });
        const admission = await ctx.gate.admit(request(keyActor(110), { stream: true }));
        const redis = new Redis(redisUrl);
        try {
          const keys = await redis.keys(`${ctx.prefix}*key:110:*`);
          assert.equal(keys.length, 2, keys.join(', '));
          for (const key of keys) {
            const ttl = await redis.pttl(key);
            const expected = key.includes(':streams') ? streamLeaseMs : 3600_000 + 60_000;
            assert.ok(ttl > 0 && ttl <= expected, `${key} expires in ${ttl} ms`);
          }
        } finally {
          redis.disconnect();
        }
        await admission.settle({ tokens: 0, costMicros: 0 });
      });
    }

    test('with no plan and no key limits every call is admitted without headers', async () => {
      const admission = await ctx.gate.admit(
        request({ userId: 70, role: 'user' }, { reserveTokens: 10 ** 9, stream: true }),
      );
      assert.deepEqual(admission.headers, {});
      await admission.settle({ tokens: 5, costMicros: 5 });
    });
  });
}
