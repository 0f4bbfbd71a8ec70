import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { basic, createKey, signUp } from '../helpers/platform.ts';
import { ManualClock, redisUrl, startTestServer, type Dialect, type TestServer } from '../helpers/server.ts';
import { deleteRedisPrefix, uniquePrefix } from '../limits/helpers.ts';
import { chat, ledgerOf, longReply, model, streamChat, tokensOf, waitForLedger } from '../limits/http-helpers.ts';

const modes: Array<{ name: string; dialect: Dialect; redis: boolean }> = [
  { name: 'embedded (SQLite, limits in process)', dialect: 'sqlite', redis: false },
  { name: 'cluster (PostgreSQL, limits in Redis)', dialect: 'postgres', redis: true },
];

for (const mode of modes) {
  describe(`limits on every model route, ${mode.name}`, () => {
    let server: TestServer;
    const clock = new ManualClock(Date.parse('2026-04-08T10:00:00.000Z'));
    const prefix = uniquePrefix();
    before(async () => {
      const env: Record<string, string> = { CAUSERIE_MOCK_PROVIDER: 'true' };
      if (mode.redis) Object.assign(env, { REDIS_URL: redisUrl, CAUSERIE_REDIS_PREFIX: prefix });
      server = await startTestServer({ dialect: mode.dialect, env, clock });
    });
    after(async () => {
      await server?.stop();
      if (mode.redis) await deleteRedisPrefix(prefix);
    });

    test('a key limited to 50 requests a day, hit by 200 concurrent requests, lets exactly 50 through', async () => {
      const user = await signUp(server, `daily-${mode.dialect}`);
      const key = await createKey(server, user.basic, { name: 'fifty', limits: { requests_per_day: 50 } });
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => chat(server.url, key.key, `request ${i}`, { max_tokens: 4 })),
      );
      const ok = results.filter((r) => r.status === 200);
      const limited = results.filter((r) => r.status === 429);
      assert.equal(ok.length, 50, `statuses: ${[...new Set(results.map((r) => r.status))].join(', ')}`);
      assert.equal(limited.length, 150);

      // The OpenAI surface answers in OpenAI's error shape, with the limit that tripped.
      const refusal = limited[0]!;
      assert.equal(refusal.body.error.type, 'rate_limit_error');
      assert.equal(refusal.body.error.code, 'rate_limited');
      assert.match(refusal.body.error.message, /key\.requests_per_day/);
      assert.equal(refusal.headers.get('x-ratelimit-scope'), 'key.requests_per_day');
      assert.equal(refusal.headers.get('x-ratelimit-limit'), '50');
      assert.equal(refusal.headers.get('x-ratelimit-remaining'), '0');
      assert.equal(refusal.headers.get('retry-after'), String(14 * 3600), '10:00 UTC: 14 hours to midnight');
      assert.equal(refusal.headers.get('x-ratelimit-reset'), String(14 * 3600));
      // Successes carry the same headers; together they counted down from 49 to 0.
      const remaining = ok.map((r) => Number(r.headers.get('x-ratelimit-remaining'))).sort((a, b) => a - b);
      assert.deepEqual(
        remaining,
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.ok(ok.every((r) => r.headers.get('x-ratelimit-scope') === 'key.requests_per_day'));

      // Spec 000's route is refused too, in the native shape.
      const native = await server.api('/api/v1/models/completions', {
        method: 'POST',
        body: { model_id: model, prompt: 'one more' },
        auth: key.key,
      });
      assert.equal(native.status, 429);
      assert.equal(native.body.code, 'rate_limited');
      assert.match(native.body.detail, /key\.requests_per_day/);
      assert.equal(native.headers.get('retry-after'), String(14 * 3600));

      // Exactly one ledger row per call that reached the model.
      assert.equal((await ledgerOf(server, key.id)).length, 50);
      const usage = await server.api('/api/v1/usage?group_by=key', { auth: user.basic });
      assert.equal(usage.body.rows[0].requests, 50);
      const shown = await server.api(`/api/v1/keys/${key.id}`, { auth: user.basic });
      assert.deepEqual(shown.body.limits_remaining, { requests_per_day: 0 });
    });

    test('concurrent streams never spend past a token budget; cancelled streams are charged what they produced', async () => {
      const budget = 400;
      const user = await signUp(server, `tokens-${mode.dialect}`);
      const key = await createKey(server, user.basic, { name: 'budget', limits: { tokens_per_day: budget } });
      // Each call may use its prompt (about 45 words, fewer than its estimate) + 20 tokens.
      const content = `[[reply:${longReply}]] [[chunk-delay:10]]`;
      let admitted = 0;
      for (let wave = 0; wave < 3; wave++) {
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            streamChat(server.url, key.key, content, { max_tokens: 20, abortAfterChunks: i % 2 === 0 ? 3 : undefined }),
          ),
        );
        for (const result of results) {
          if (result.status === 200) admitted++;
          else {
            assert.equal(result.status, 429);
            assert.equal(result.headers.get('x-ratelimit-scope'), 'key.tokens_per_day');
          }
        }
        const rows = await waitForLedger(server, key.id, admitted);
        assert.equal(rows.length, admitted, 'one row per admitted call');
      }
      const rows = await ledgerOf(server, key.id);
      assert.ok(admitted >= 1, 'a request that fits is allowed');
      const spent = tokensOf(rows);
      assert.ok(spent <= budget, `the key spent ${spent} tokens of ${budget}`);
      const cancelled = rows.filter((r) => r.status === 'cancelled');
      assert.ok(cancelled.length >= 1, 'some streams were cancelled');
      assert.ok(
        cancelled.every((r) => r.completion_tokens < 20),
        'a cancelled stream is charged what it produced',
      );
      // With every call settled, the counter holds exactly what the ledger recorded.
      const overview = await server.api('/api/v1/limits', { auth: key.key });
      const tokens = overview.body.limits.find((l: { scope: string }) => l.scope === 'key.tokens_per_day');
      assert.equal(tokens.used, spent);
    });

    test('near the end of a token quota a request gets what is left, its answer cut to fit', async () => {
      const user = await signUp(server, `shrink-${mode.dialect}`);
      const key = await createKey(server, user.basic, { limits: { tokens_per_day: 60 } });
      // No max_tokens: the worst case is the model's whole answer, far more than 60 tokens.
      const first = await chat(server.url, key.key, `[[reply:${longReply}]]`);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      assert.equal(first.body.choices[0].finish_reason, 'length');
      const used = first.body.usage.prompt_tokens + first.body.usage.completion_tokens;
      assert.ok(first.body.usage.completion_tokens >= 1 && used <= 60, `used ${used} of 60`);
      const second = await chat(server.url, key.key, `[[reply:${longReply}]]`);
      assert.equal(second.status, 429, 'what is left does not even hold the prompt');
      assert.ok(tokensOf(await ledgerOf(server, key.id)) <= 60);
    });

    test('one quota across every surface: completions, spec 003 streams and spec 000 sessions', async () => {
      const user = await signUp(server, `surfaces-${mode.dialect}`);
      const key = await createKey(server, user.basic, { limits: { requests_per_day: 3 } });
      const native = await server.api('/api/v1/models/completions', {
        method: 'POST',
        body: { model_id: model, prompt: 'hello' },
        auth: key.key,
      });
      assert.equal(native.status, 200, native.text);
      assert.equal(native.headers.get('x-ratelimit-scope'), 'key.requests_per_day');
      assert.equal(native.headers.get('x-ratelimit-remaining'), '2');
      const stream = await fetch(`${server.url}/v1/chat/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'Tell me a story' }] }),
      });
      assert.equal(stream.status, 200);
      assert.match(await stream.text(), /data: \[DONE\]/);
      assert.equal(stream.headers.get('x-ratelimit-remaining'), '1');
      const session = await server.api('/api/v1/sessions', { method: 'POST', auth: key.key });
      const path = `/api/v1/sessions/${session.body.id}/models/completions`;
      const inSession = await server.api(path, {
        method: 'POST',
        body: { model_id: model, prompt: 'Bonjour' },
        auth: key.key,
      });
      assert.equal(inSession.status, 200, inSession.text);
      assert.equal(inSession.headers.get('x-ratelimit-remaining'), '0');
      const history = (await server.api(`/api/v1/sessions/${session.body.id}/history`, { auth: key.key })).body.length;
      const refused = await server.api(path, {
        method: 'POST',
        body: { model_id: model, prompt: 'Encore' },
        auth: key.key,
      });
      assert.equal(refused.status, 429);
      assert.equal(refused.body.code, 'rate_limited');
      assert.match(refused.body.detail, /key\.requests_per_day/);
      assert.equal(refused.headers.get('x-ratelimit-scope'), 'key.requests_per_day');
      assert.ok(refused.headers.get('retry-after'));
      assert.equal(
        (await server.api(`/api/v1/sessions/${session.body.id}/history`, { auth: key.key })).body.length,
        history,
        'a refused prompt is not stored',
      );
    });

    test('limits reset at the window boundary, on the clock the server runs on', async () => {
      const user = await signUp(server, `minute-${mode.dialect}`);
      const key = await createKey(server, user.basic, { limits: { requests_per_minute: 2 } });
      clock.set(Date.parse('2026-04-08T10:05:45.000Z'));
      assert.equal((await chat(server.url, key.key, 'one')).status, 200);
      assert.equal((await chat(server.url, key.key, 'two')).status, 200);
      const third = await chat(server.url, key.key, 'three');
      assert.equal(third.status, 429);
      assert.equal(third.headers.get('retry-after'), '15');
      assert.equal(third.headers.get('x-ratelimit-scope'), 'key.requests_per_minute');
      clock.set(Date.parse('2026-04-08T10:06:00.000Z'));
      const next = await chat(server.url, key.key, 'four');
      assert.equal(next.status, 200);
      assert.equal(next.headers.get('x-ratelimit-remaining'), '1');
      assert.equal(next.headers.get('x-ratelimit-reset'), '60');
    });

    test("a plan's limits apply whatever the credentials, and concurrent streams are counted while open", async () => {
      const user = await signUp(server, `plan-${mode.dialect}`);
      const plan = await server.api('/api/v1/plans', {
        method: 'POST',
        body: { name: `one-stream-${mode.dialect}`, limits: { concurrent_streams: 1, requests_per_day: 3 } },
      });
      assert.equal(plan.status, 201, plan.text);
      await server.api(`/api/v1/users/${user.username}/plan`, { method: 'PUT', body: { plan: plan.body.id } });
      const key = await createKey(server, user.basic);

      // A stream that hangs after its first chunk holds the user's only slot.
      const controller = new AbortController();
      const open = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: '[[hang]]' }], stream: true }),
        signal: controller.signal,
      });
      assert.equal(open.status, 200);
      assert.equal(open.headers.get('x-ratelimit-scope'), 'user.concurrent_streams');
      const second = await streamChat(server.url, key.key, 'second stream');
      assert.equal(second.status, 429);
      assert.equal(second.headers.get('x-ratelimit-scope'), 'user.concurrent_streams');
      assert.equal(second.headers.get('retry-after'), '1');
      // A plain request needs no stream slot; Basic credentials count against the same plan.
      const plain = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: basic(user.username, user.password), 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'plain' }] }),
      });
      assert.equal(plain.status, 200);
      assert.equal(plain.headers.get('x-ratelimit-scope'), 'user.requests_per_day');
      assert.equal(plain.headers.get('x-ratelimit-remaining'), '1');

      controller.abort();
      // The slot comes back once the server has seen the client leave.
      let reopened: Awaited<ReturnType<typeof streamChat>> | undefined;
      for (let attempt = 0; attempt < 100; attempt++) {
        reopened = await streamChat(server.url, key.key, 'after the hang');
        if (reopened.status === 200) break;
        await sleep(50);
      }
      assert.equal(reopened!.status, 200);
      const last = await chat(server.url, key.key, 'over the daily limit');
      assert.equal(last.status, 429);
      assert.equal(last.headers.get('x-ratelimit-scope'), 'user.requests_per_day');
    });
  });
}
