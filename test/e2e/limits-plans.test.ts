import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { dialects, ManualClock, startTestServer, type TestServer } from '../helpers/server.ts';

/** A usage row as the completions service writes one per model call. */
async function recordCall(
  server: TestServer,
  row: {
    user_id: number;
    api_key_id: number | null;
    model?: string;
    prompt: number;
    completion: number;
    cost?: number;
    at: string;
  },
) {
  await server.services.sql.db
    .insertInto('usage_records')
    .values({
      user_id: row.user_id,
      api_key_id: row.api_key_id,
      conversation_id: null,
      model: row.model ?? 'mock/echo',
      provider: 'mock',
      prompt_tokens: row.prompt,
      completion_tokens: row.completion,
      cost_micros: row.cost ?? 0,
      status: 'complete',
      created_at: row.at,
    })
    .execute();
}

for (const dialect of dialects) {
  describe(`plans, limits and usage routes on ${dialect}`, () => {
    let server: TestServer;
    const clock = new ManualClock(Date.parse('2026-03-10T15:30:00.000Z'));
    before(async () => {
      server = await startTestServer({ dialect, clock });
    });
    after(() => server?.stop());

    test('an admin creates, reads, changes and deletes plans; others may not', async () => {
      const created = await server.api('/api/v1/plans', {
        method: 'POST',
        body: { name: 'free', limits: { requests_per_day: 100, tokens_per_day: 50_000, budget_per_month: 2.5 } },
      });
      assert.equal(created.status, 201, created.text);
      assert.deepEqual(created.body.limits, { requests_per_day: 100, tokens_per_day: 50_000, budget_per_month: 2.5 });
      assert.equal(created.body.users, 0);
      const duplicate = await server.api('/api/v1/plans', { method: 'POST', body: { name: 'free' } });
      assert.equal(duplicate.status, 409);
      assert.match(duplicate.body.detail, /exists already/);
      const unknownLimit = await server.api('/api/v1/plans', {
        method: 'POST',
        body: { name: 'x', limits: { requests_per_year: 1 } },
      });
      assert.equal(unknownLimit.status, 400);
      const byName = await server.api('/api/v1/plans/free');
      assert.equal(byName.body.id, created.body.id);
      const patched = await server.api(`/api/v1/plans/${created.body.id}`, {
        method: 'PATCH',
        body: { limits: { requests_per_day: 200 } },
      });
      assert.deepEqual(patched.body.limits, { requests_per_day: 200 });
      const temporary = await server.api('/api/v1/plans', { method: 'POST', body: { name: 'temporary' } });
      assert.equal((await server.api('/api/v1/plans/temporary', { method: 'DELETE' })).status, 200);
      assert.equal((await server.api(`/api/v1/plans/${temporary.body.id}`)).status, 404);
      const list = await server.api('/api/v1/plans');
      assert.deepEqual(
        list.body.map((p: { name: string }) => p.name),
        ['free'],
      );

      const user = await signUp(server, 'plain-user');
      assert.equal((await server.api('/api/v1/plans', { auth: user.basic })).status, 403);
      assert.equal(
        (await server.api('/api/v1/plans', { method: 'POST', body: { name: 'mine' }, auth: user.basic })).status,
        403,
      );
    });

    test("a user on a plan reads their limits; a key's own limits show what is left of each", async () => {
      await server.api('/api/v1/plans', {
        method: 'POST',
        body: { name: 'pro', limits: { requests_per_minute: 60, tokens_per_month: 1_000_000, concurrent_streams: 3 } },
      });
      const user = await signUp(server, 'pro-user');
      const assigned = await server.api(`/api/v1/users/${user.username}/plan`, {
        method: 'PUT',
        body: { plan: 'pro' },
      });
      assert.equal(assigned.status, 200, assigned.text);
      assert.ok(assigned.body.plan_id > 0);

      const key = await createKey(server, user.basic, {
        name: 'tight',
        limits: { requests_per_day: 50, tokens_per_day: 2000 },
      });
      await recordCall(server, {
        user_id: user.id,
        api_key_id: key.id,
        prompt: 100,
        completion: 200,
        at: '2026-03-10T09:00:00.000Z',
      });
      await recordCall(server, {
        user_id: user.id,
        api_key_id: key.id,
        prompt: 10,
        completion: 20,
        at: '2026-03-09T09:00:00.000Z',
      });

      // The ledger rows above were written behind the server's back; a restart would count them.
      // What a live server shows is its counters, which start empty here.
      const overview = await server.api('/api/v1/limits', { auth: key.key });
      assert.equal(overview.status, 200, overview.text);
      assert.deepEqual(overview.body.plan, { id: assigned.body.plan_id, name: 'pro' });
      assert.equal(overview.body.api_key_id, key.id);
      const scopes = overview.body.limits.map((l: { scope: string }) => l.scope);
      assert.deepEqual(scopes, [
        'user.requests_per_minute',
        'user.tokens_per_month',
        'user.concurrent_streams',
        'key.requests_per_day',
        'key.tokens_per_day',
      ]);
      const day = overview.body.limits.find((l: { scope: string }) => l.scope === 'key.requests_per_day');
      assert.deepEqual(day, {
        scope: 'key.requests_per_day',
        limit: 50,
        used: 0,
        remaining: 50,
        resets_at: '2026-03-11T00:00:00.000Z',
      });
      const streams = overview.body.limits.find((l: { scope: string }) => l.scope === 'user.concurrent_streams');
      assert.equal(streams.resets_at, null);

      const shown = await server.api(`/api/v1/keys/${key.id}`, { auth: user.basic });
      assert.deepEqual(shown.body.limits, { requests_per_day: 50, tokens_per_day: 2000 });
      assert.deepEqual(shown.body.limits_remaining, { requests_per_day: 50, tokens_per_day: 2000 });

      // Only an admin changes a key's limits after its creation.
      const refused = await server.api(`/api/v1/keys/${key.id}/limits`, {
        method: 'PUT',
        body: { requests_per_day: 5000 },
        auth: user.basic,
      });
      assert.equal(refused.status, 403);
      const changed = await server.api(`/api/v1/keys/${key.id}/limits`, {
        method: 'PUT',
        body: { requests_per_day: 5, concurrent_streams: 1 },
      });
      assert.equal(changed.status, 200, changed.text);
      assert.deepEqual(changed.body.limits, { requests_per_day: 5, concurrent_streams: 1 });
      assert.deepEqual(changed.body.limits_remaining, { requests_per_day: 5, concurrent_streams: 1 });
      const cleared = await server.api(`/api/v1/keys/${key.id}/limits`, { method: 'PUT', body: {} });
      assert.equal(cleared.body.limits, null);
      assert.equal(cleared.body.limits_remaining, null);

      const unassigned = await server.api(`/api/v1/users/${user.id}/plan`, { method: 'PUT', body: { plan: null } });
      assert.equal(unassigned.body.plan_id, null);
      assert.deepEqual((await server.api('/api/v1/limits', { auth: user.basic })).body.limits, []);
      assert.equal(
        (await server.api(`/api/v1/users/${user.id}/plan`, { method: 'PUT', body: { plan: 'no-such-plan' } })).status,
        404,
      );
    });

    test('usage is reported by day, model and key, each user seeing their own', async () => {
      const alice = await signUp(server, 'usage-alice');
      const bob = await signUp(server, 'usage-bob');
      const aliceKey = await createKey(server, alice.basic, { name: 'alice-cli' });
      await recordCall(server, {
        user_id: alice.id,
        api_key_id: aliceKey.id,
        model: 'mock/a',
        prompt: 10,
        completion: 5,
        cost: 1500,
        at: '2026-03-01T10:00:00.000Z',
      });
      await recordCall(server, {
        user_id: alice.id,
        api_key_id: aliceKey.id,
        model: 'mock/b',
        prompt: 20,
        completion: 7,
        cost: 2500,
        at: '2026-03-01T23:59:59.999Z',
      });
      await recordCall(server, {
        user_id: alice.id,
        api_key_id: null,
        model: 'mock/a',
        prompt: 1,
        completion: 2,
        cost: 0,
        at: '2026-03-10T08:00:00.000Z',
      });
      await recordCall(server, {
        user_id: alice.id,
        api_key_id: null,
        model: 'mock/a',
        prompt: 99,
        completion: 99,
        cost: 0,
        at: '2026-02-28T23:59:59.999Z',
      });
      await recordCall(server, {
        user_id: bob.id,
        api_key_id: null,
        model: 'mock/a',
        prompt: 1000,
        completion: 1000,
        cost: 9,
        at: '2026-03-05T00:00:00.000Z',
      });

      const byDay = await server.api('/api/v1/usage?group_by=day', { auth: alice.basic });
      assert.equal(byDay.status, 200, byDay.text);
      assert.equal(byDay.body.from, '2026-03-01T00:00:00.000Z', 'from defaults to the start of the UTC month');
      assert.equal(byDay.body.to, '2026-03-11T00:00:00.000Z', 'to defaults to the end of today');
      assert.deepEqual(byDay.body.rows, [
        { day: '2026-03-01', requests: 2, prompt_tokens: 30, completion_tokens: 12, total_tokens: 42, cost: 0.004 },
        { day: '2026-03-10', requests: 1, prompt_tokens: 1, completion_tokens: 2, total_tokens: 3, cost: 0 },
      ]);
      assert.deepEqual(byDay.body.total, {
        requests: 3,
        prompt_tokens: 31,
        completion_tokens: 14,
        total_tokens: 45,
        cost: 0.004,
      });

      const byModelAndKey = await server.api('/api/v1/usage?from=2026-02-01&to=2026-03-01&group_by=model,key', {
        auth: alice.basic,
      });
      // "to" as a bare date includes that day: 1 March is in. Calls without a key come first.
      assert.deepEqual(byModelAndKey.body.rows, [
        {
          model: 'mock/a',
          api_key_id: null,
          api_key_name: null,
          requests: 1,
          prompt_tokens: 99,
          completion_tokens: 99,
          total_tokens: 198,
          cost: 0,
        },
        {
          model: 'mock/a',
          api_key_id: aliceKey.id,
          api_key_name: 'alice-cli',
          requests: 1,
          prompt_tokens: 10,
          completion_tokens: 5,
          total_tokens: 15,
          cost: 0.0015,
        },
        {
          model: 'mock/b',
          api_key_id: aliceKey.id,
          api_key_name: 'alice-cli',
          requests: 1,
          prompt_tokens: 20,
          completion_tokens: 7,
          total_tokens: 27,
          cost: 0.0025,
        },
      ]);

      const everyone = await server.api('/api/v1/usage?all=true');
      assert.equal(everyone.body.user_id, null);
      // Alice's three March calls, Bob's one, and the two the previous test recorded for pro-user.
      assert.equal(everyone.body.total.requests, 6);
      const forBob = await server.api(`/api/v1/usage?user=${bob.username}`);
      assert.equal(forBob.body.total.prompt_tokens, 1000);
      assert.equal((await server.api('/api/v1/usage?all=true', { auth: bob.basic })).status, 403);
      assert.equal((await server.api('/api/v1/usage?group_by=week', { auth: bob.basic })).status, 400);
      assert.equal((await server.api('/api/v1/usage?from=yesterday', { auth: bob.basic })).status, 400);
    });
  });
}

describe('CAUSERIE_DEFAULT_PLAN', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_DEFAULT_PLAN: 'starter' } });
  });
  after(() => server?.stop());

  test('applies its plan to users who have none, and a change to the plan applies at once', async () => {
    const user = await signUp(server, 'newcomer');
    // Named but not created yet: no limits.
    assert.deepEqual((await server.api('/api/v1/limits', { auth: user.basic })).body.plan, null);
    // The node's one-second cache is cleared by changes made through it.
    await server.api('/api/v1/plans', { method: 'POST', body: { name: 'starter', limits: { requests_per_day: 10 } } });
    assert.equal((await server.api('/api/v1/limits', { auth: user.basic })).body.plan.name, 'starter');
    await server.api('/api/v1/plans/starter', { method: 'PATCH', body: { limits: { requests_per_day: 20 } } });
    const overview = await server.api('/api/v1/limits', { auth: user.basic });
    assert.equal(overview.body.plan.name, 'starter');
    assert.deepEqual(
      overview.body.limits.map((l: { scope: string; limit: number }) => [l.scope, l.limit]),
      [['user.requests_per_day', 20]],
    );
    // A plan of their own replaces the default.
    await server.api('/api/v1/plans', { method: 'POST', body: { name: 'gold', limits: { tokens_per_month: 5 } } });
    await server.api(`/api/v1/users/${user.username}/plan`, { method: 'PUT', body: { plan: 'gold' } });
    assert.deepEqual(
      (await server.api('/api/v1/limits', { auth: user.basic })).body.limits.map((l: { scope: string }) => l.scope),
      ['user.tokens_per_month'],
    );
  });
});
