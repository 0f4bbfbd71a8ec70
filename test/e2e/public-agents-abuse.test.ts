import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dialects, ManualClock, redisUrl, type TestServer } from '../helpers/server.ts';
import { eventually } from './conversations-helpers.ts';
import {
  mintToken,
  otherOrigin,
  publicCall,
  publishAgent,
  sendPublic,
  startPublicServer,
  type PublicServer,
  type PublishedAgent,
} from './public-agents-helpers.ts';
import type { Json, WireMessage } from '../helpers/wire.ts';

/**
 * Abuse of public agents: a client token replayed from another origin or another client, after
 * it expired or after its key was revoked, or far faster than a person types, is refused (403),
 * revoked and recorded for the agent's owner; visitor limits hold exactly under concurrency.
 */
for (const dialect of dialects) {
  describe(`public agents abuse (${dialect})`, () => {
    let running: PublicServer;
    let server: TestServer;
    let published: PublishedAgent;
    const clock = new ManualClock(Date.now());

    before(async () => {
      running = await startPublicServer(dialect, { clock, env: { CAUSERIE_PUBLIC_BURST_LIMIT: '12' } });
      server = running.server;
      published = await publishAgent(server);
    });
    after(() => running.stop());

    const events = async () => {
      const response = await server.api(`/api/v1/agents/${published.agent.id}/public-events`, {
        auth: published.owner.basic,
      });
      assert.equal(response.status, 200);
      return response.body as Array<{
        reason: string;
        origin: string | null;
        visitor: string | null;
        public_key_id: number;
      }>;
    };
    const fresh = async (userAgent?: string) => {
      const response = await mintToken(server, published.key, published.agent.id, { userAgent });
      assert.equal(response.status, 200, response.text);
      return response.body.token as string;
    };
    const messagesOf = (token: string, options: { origin?: string; userAgent?: string } = {}) =>
      publicCall(server, `/v1/chat/conversation/public/messages/${token}`, options);

    test('a page on an origin the key does not list gets no token (403), no CORS answer, and the attempt is recorded', async () => {
      const response = await mintToken(server, published.key, published.agent.id, { origin: otherOrigin });
      assert.equal(response.status, 403);
      assert.equal(response.body.token, undefined);
      assert.equal(response.headers.get('access-control-allow-origin'), null);
      const missing = await mintToken(server, published.key, published.agent.id, { origin: null });
      assert.equal(missing.status, 403);
      const recorded = await events();
      assert.equal(recorded[0]!.reason, 'origin_not_allowed');
      assert.equal(recorded[0]!.origin, otherOrigin);
      assert.equal(recorded[0]!.public_key_id, published.keyRecord.id);
    });

    test('a token replayed from another origin is refused, revoked, and the event recorded', async () => {
      const token = await fresh();
      const replay = await messagesOf(token, { origin: otherOrigin });
      assert.equal(replay.status, 403);
      assert.equal(replay.body.code, 'forbidden');
      // Revoked: its own page cannot use it any more either.
      assert.equal((await messagesOf(token)).status, 403);
      assert.equal((await sendPublic(server, { client_token: token, message: 'Bonjour' })).status, 403);
      const reasons = (await events()).map((e) => e.reason);
      assert.ok(reasons.includes('origin_mismatch'));
      assert.ok(reasons.includes('revoked_token_replayed'));
    });

    test('a token presented by another client (another user agent) is refused and revoked', async () => {
      const token = await fresh();
      assert.equal((await messagesOf(token, { userAgent: 'curl/8.0' })).status, 403);
      assert.equal((await messagesOf(token)).status, 403);
      const recorded = await events();
      assert.ok(
        recorded.some((e) => e.reason === 'visitor_mismatch' && /^visitor_[0-9a-f]{16}$/.test(e.visitor ?? '')),
      );
    });

    test('a token replayed after it expired is refused and recorded', async () => {
      const token = await fresh();
      assert.equal((await messagesOf(token)).status, 200);
      clock.advance(3600 * 1000);
      const late = await sendPublic(server, { client_token: token, message: 'Encore là ?' });
      assert.equal(late.status, 403);
      assert.match(late.body.detail, /expired/);
      assert.ok((await events()).some((e) => e.reason === 'expired_token_replayed'));
    });

    test('a token used after its key was revoked is refused and recorded', async () => {
      const other = await publishAgent(server, { owner: published.owner });
      const minted = await mintToken(server, other.key, other.agent.id);
      assert.equal(minted.status, 200);
      assert.equal(
        (await publicCall(server, `/v1/chat/conversation/public/messages/${minted.body.token}`)).status,
        200,
      );
      const revoked = await server.api(`/api/v1/public-keys/${other.keyRecord.uuid}`, {
        method: 'DELETE',
        auth: published.owner.basic,
      });
      assert.equal(revoked.status, 200);
      const after = await sendPublic(server, { client_token: minted.body.token, message: 'Bonjour' });
      assert.equal(after.status, 403);
      const recorded = (
        await server.api(`/api/v1/agents/${other.agent.id}/public-events`, { auth: published.owner.basic })
      ).body;
      assert.deepEqual(
        recorded.map((e: { reason: string }) => e.reason),
        ['revoked_token_replayed'],
      );
    });

    test("a token used in a burst far above a person's pace is refused and revoked", async () => {
      const token = await fresh('Burst browser');
      const statuses: number[] = [];
      for (let i = 0; i < 14; i++) statuses.push((await messagesOf(token, { userAgent: 'Burst browser' })).status);
      assert.deepEqual(statuses, [...Array(12).fill(200), 403, 403]);
      clock.advance(60_000);
      assert.equal(
        (await messagesOf(token, { userAgent: 'Burst browser' })).status,
        403,
        'stays revoked after the burst',
      );
      assert.ok((await events()).some((e) => e.reason === 'burst'));
    });

    test('the owner alone reads the events', async () => {
      const stranger = await publishAgent(server, { username: `stranger${dialect}` });
      const response = await server.api(`/api/v1/agents/${published.agent.id}/public-events`, {
        auth: stranger.owner.basic,
      });
      assert.equal(response.status, 404);
    });
  });

  describe(`public agents visitor limit under concurrency (${dialect}, ${dialect === 'postgres' ? 'Redis' : 'in-process'} counters)`, () => {
    let running: PublicServer;
    let server: TestServer;

    before(async () => {
      const env: Record<string, string> = { CAUSERIE_PUBLIC_BURST_LIMIT: '100000' };
      if (dialect === 'postgres')
        Object.assign(env, { REDIS_URL: redisUrl, CAUSERIE_REDIS_PREFIX: `test-public-${randomUUID()}:` });
      // A still clock at the start of a minute: the minute cannot turn between the first request and
      // the last, and Redis (which expires keys in real time) keeps the counter the whole minute.
      running = await startPublicServer(dialect, {
        env,
        clock: new ManualClock(Math.floor(Date.now() / 60_000) * 60_000),
      });
      server = running.server;
    });
    after(() => running.stop());

    test('200 concurrent public messages against a visitor limit of 20 per minute let exactly 20 through', async () => {
      const published = await publishAgent(server, {
        body: { visitor_limits: { requests_per_minute: 21, messages_per_conversation: 1000 } },
      });
      const minted = await mintToken(server, published.key, published.agent.id);
      assert.equal(minted.status, 200);
      const token = minted.body.token;
      // The token request was the visitor's first of the minute: 20 are left for messages.
      const responses = await Promise.all(
        Array.from({ length: 200 }, (_, i) => sendPublic(server, { client_token: token, message: `Message ${i}` })),
      );
      const statuses = responses.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 200).length, 20);
      assert.equal(statuses.filter((s) => s === 429).length, 180);
      assert.ok(responses.filter((r) => r.status === 429).every((r) => Number(r.headers.get('retry-after')) >= 1));
      const messages = await publicCall(server, `/v1/chat/conversation/public/messages/${token}`);
      assert.equal(messages.body.filter((m: WireMessage) => m.role === 'user').length, 20);
    });

    test("the public key's own limits hold across its visitors, and the usage is charged to the agent's owner through the key", async () => {
      const published = await publishAgent(server, {
        username: 'keylimits',
        body: { limits: { requests_per_minute: 3 }, visitor_limits: { requests_per_minute: 50 } },
      });
      const statuses: number[] = [];
      let refusal: Json;
      for (const visitor of ['Visitor A', 'Visitor B']) {
        const minted = await mintToken(server, published.key, published.agent.id, { userAgent: visitor });
        assert.equal(minted.status, 200);
        for (let i = 0; i < 2; i++) {
          const response = await sendPublic(
            server,
            { client_token: minted.body.token, message: `Question ${i}` },
            { userAgent: visitor },
          );
          statuses.push(response.status);
          if (response.status === 429) refusal = response;
        }
      }
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      assert.equal(refusal.headers.get('x-ratelimit-scope'), 'key.requests_per_minute');
      assert.ok(Number(refusal.headers.get('retry-after')) >= 1);
      // The ledger is written as each call settles: wait for the three rows.
      const usage = await eventually(async () => {
        const rows = await server.services.sql.db
          .selectFrom('usage_records')
          .selectAll()
          .where('api_key_id', '=', published.keyRecord.id)
          .execute();
        return rows.length >= 3 ? rows : undefined;
      });
      assert.equal(usage.length, 3);
      assert.ok(usage.every((row) => row.user_id === published.owner.id && row.prompt_tokens > 0));
    });
  });
}
