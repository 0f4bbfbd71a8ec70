import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey } from '../helpers/platform.ts';
import { dialects, ManualClock, type TestServer } from '../helpers/server.ts';
import {
  mintToken,
  otherOrigin,
  pageOrigin,
  publicCall,
  publishAgent,
  sendPublic,
  startPublicServer,
  type PublicServer,
  type PublishedAgent,
} from './public-agents-helpers.ts';
import type { Json, WireConversation, WireMessage, WireSession } from '../helpers/wire.ts';

/**
 * The public-agents dialect ("API Publique (Agents)") replayed route by route, with every status code the document
 * lists: the token route (200, 401, 404), the messages route (200, 403, 404) and the message route
 * (200, 403, 429), as a browser on an allowed page calls them.
 */
for (const dialect of dialects) {
  describe(`the public-agents dialect public agents (${dialect})`, () => {
    let running: PublicServer;
    let server: TestServer;
    let published: PublishedAgent;
    let token: string;
    let conversationUuid: string;

    before(async () => {
      // A still clock: the visitor's minute cannot turn between its requests (the 429 test counts them).
      running = await startPublicServer(dialect, { clock: new ManualClock(Date.now()) });
      server = running.server;
      published = await publishAgent(server, { body: { visitor_limits: { requests_per_minute: 8 } } });
    });
    after(() => running.stop());

    test('a public key is PUB_…, shown once, for one agent and its origins', () => {
      assert.match(published.key, /^PUB_[0-9A-Z]{4}(_[0-9A-Z]{4}){7}$/);
      assert.equal(published.keyRecord.agent_id, published.agent.id);
      assert.deepEqual(published.keyRecord.allowed_origins, [pageOrigin]);
      assert.equal(published.keyRecord.prefix, published.key.slice(0, 8));
    });

    test('GET …/public/message/token/:modelId answers 200 with a client token for a new public conversation', async () => {
      const response = await mintToken(server, published.key, published.agent.id);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(Object.keys(response.body).sort(), ['conversation_id', 'expires_at', 'token']);
      token = response.body.token;
      conversationUuid = response.body.conversation_id;
      assert.match(token, /^pct_[0-9A-Z]{51}$/);
      assert.match(conversationUuid, /^[0-9a-f-]{36}$/);
      assert.ok(Date.parse(response.body.expires_at) > Date.now());
      assert.equal(response.headers.get('access-control-allow-origin'), pageOrigin);
      assert.match(response.headers.get('vary') ?? '', /Origin/i);
      // The agent's UUID and the model it answers with name it too.
      assert.equal((await mintToken(server, published.key, published.agent.uuid)).status, 200);
      assert.equal((await mintToken(server, published.key, 'gpt-4')).status, 200);
    });

    test('GET …/token/:modelId answers 401 without an Authorization header', async () => {
      const response = await publicCall(server, `/v1/chat/conversation/public/message/token/${published.agent.id}`);
      assert.equal(response.status, 401);
      assert.equal(response.body.code, 'unauthorized');
    });

    test('GET …/token/:modelId answers 404 for an unknown key, a secret key, or a model the key does not serve', async () => {
      const unknown = await mintToken(
        server,
        `PUB_${'A'.repeat(4)}_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA`,
        published.agent.id,
      );
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.code, 'not_found');
      assert.equal((await mintToken(server, server.adminKey, published.agent.id)).status, 404);
      const other = await server.services.agents.create(
        { userId: published.owner.id, role: 'user' },
        { name: 'Autre', model: 'gpt-3.5-turbo' },
      );
      assert.equal((await mintToken(server, published.key, other.id)).status, 404);
      assert.equal((await mintToken(server, published.key, 'gpt-3.5-turbo')).status, 404);
      assert.equal((await mintToken(server, published.key, 'no-such-model')).status, 404);
    });

    test('GET …/public/messages/:token answers 200 with the conversation, empty at first', async () => {
      const response = await publicCall(server, `/v1/chat/conversation/public/messages/${token}`);
      assert.equal(response.status, 200, response.text);
      assert.deepEqual(response.body, []);
      assert.equal(response.headers.get('access-control-allow-origin'), pageOrigin);
    });

    test("POST …/public/message answers 200 with the agent's reply, its instructions applied", async () => {
      const response = await sendPublic(server, { client_token: token, message: 'Bonjour [[echo-prompt]]' });
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.role, 'assistant');
      assert.match(response.body.content, /system: Tu es le conseiller de la boutique\./);
      assert.match(response.body.content, /user: Bonjour/);
      assert.equal(response.headers.get('access-control-allow-origin'), pageOrigin);
    });

    test('POST …/public/message with "stream": true answers Server-Sent Events, then the messages route shows the whole conversation', async () => {
      const response = await sendPublic(server, {
        client_token: token,
        // Chunks apart in time: text that arrives together would leave as one delta.
        message: 'Quels horaires ? [[reply:De 9 h à 19 h, du lundi au samedi.]] [[chunk-delay:20]]',
        stream: true,
      });
      assert.equal(response.status, 200, response.text);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(response.headers.get('access-control-allow-origin'), pageOrigin);
      const data = response.events.map((e) => e.data);
      assert.equal(data.at(-1), '[DONE]');
      const parsed = data.slice(0, -1).map((d) => JSON.parse(d));
      const text = parsed
        .filter((p) => p.type === 'delta')
        .map((p) => p.content)
        .join('');
      assert.equal(text, 'De 9 h à 19 h, du lundi au samedi.');
      assert.ok(parsed.filter((p) => p.type === 'delta').length > 1, 'the answer arrives in pieces');
      assert.deepEqual(parsed.at(-1), { ...parsed.at(-1), type: 'done', role: 'assistant', content: text });

      const messages = await publicCall(server, `/v1/chat/conversation/public/messages/${token}`);
      assert.equal(messages.status, 200);
      assert.deepEqual(
        messages.body.map((m: WireMessage) => [m.role, Object.keys(m).sort().join(',')]),
        [
          ['user', 'content,created_at,role'],
          ['assistant', 'content,created_at,role'],
          ['user', 'content,created_at,role'],
          ['assistant', 'content,created_at,role'],
        ],
      );
      assert.equal(messages.body[3].content, text);
    });

    test('POST …/public/message answers 403 for an invalid client token', async () => {
      const response = await sendPublic(server, { client_token: 'pct_NOTATOKEN', message: 'Bonjour' });
      assert.equal(response.status, 403);
      assert.equal(response.body.code, 'forbidden');
    });

    test('GET …/public/messages/:token answers 403 for an invalid token', async () => {
      const response = await publicCall(server, '/v1/chat/conversation/public/messages/pct_NOTATOKEN');
      assert.equal(response.status, 403);
      assert.equal(response.body.code, 'forbidden');
    });

    test('POST …/public/message answers 429 with Retry-After when the visitor sends too much too fast', async () => {
      // The key allows 8 requests a minute per visitor; this visitor has used 5 (3 tokens, 2 messages).
      const statuses: number[] = [];
      let refusal: Json;
      for (let i = 0; i < 5; i++) {
        const response = await sendPublic(server, { client_token: token, message: `Encore ${i}` });
        statuses.push(response.status);
        if (response.status === 429) refusal = response;
      }
      assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
      assert.equal(refusal.body.code, 'rate_limited');
      assert.ok(Number(refusal.headers.get('retry-after')) >= 1);
      assert.equal(refusal.headers.get('access-control-allow-origin'), pageOrigin);
    });

    test("the public conversation is in the owner's history, marked public with the anonymous visitor", async () => {
      const sessions = await server.api('/api/v1/sessions', { auth: published.owner.basic });
      assert.equal(sessions.status, 200);
      const session = sessions.body.find((s: WireSession) => s.uuid === conversationUuid);
      assert.ok(session, 'the public conversation is listed');
      assert.equal(session.agent_id, published.agent.id);
      assert.equal(session.metadata.public, true);
      assert.match(session.metadata.visitor, /^visitor_[0-9a-f]{16}$/);
      // The same conversation on the other surfaces' listings.
      const owner = published.owner.basic;
      const chatService = await server.api(`/users/${published.owner.id}/conversations`, { auth: owner });
      assert.ok(
        chatService.body.some((c: WireConversation) => c.conversation_id === session.id),
        'the chat-service dialect',
      );
      const chats = await server.api('/chats/', { auth: owner });
      assert.ok(
        chats.body.some((c: WireConversation) => c.id === conversationUuid),
        'the chats dialect',
      );
      const history = await server.api('/v1/chat/history', { auth: owner });
      assert.ok(
        JSON.stringify(history.body).includes(conversationUuid) ||
          history.body.sessions.some((s: WireSession) => s.id === session.id),
        'the chat-API dialect',
      );
    });

    test('GET …/public/messages/:token answers 404 once the owner deleted the conversation', async () => {
      const minted = await mintToken(server, published.key, published.agent.id, { userAgent: 'Another visitor' });
      assert.equal(minted.status, 200);
      const deleted = await server.api(`/api/v1/sessions/${minted.body.conversation_id}`, {
        method: 'DELETE',
        auth: published.owner.basic,
      });
      assert.equal(deleted.status, 204, deleted.text);
      const response = await publicCall(server, `/v1/chat/conversation/public/messages/${minted.body.token}`, {
        userAgent: 'Another visitor',
      });
      assert.equal(response.status, 404);
      assert.equal(response.body.code, 'not_found');
      const send = await sendPublic(
        server,
        { client_token: minted.body.token, message: 'Allô ?' },
        { userAgent: 'Another visitor' },
      );
      assert.equal(send.status, 403);
    });

    test('a public key calls no private route (401), and neither does a client token', async () => {
      for (const credential of [published.key, token]) {
        const routes: Array<[string, string]> = [
          ['GET', '/api/v1/me'],
          ['GET', '/api/v1/sessions'],
          ['GET', '/api/v1/keys'],
          ['GET', '/v1/models'],
          ['POST', '/v1/chat/completions'],
          ['GET', `/api/v1/agents/${published.agent.id}/public-keys`],
          ['POST', `/api/v1/agents/${published.agent.id}/public-keys`],
        ];
        for (const [method, path] of routes) {
          const body =
            method === 'POST'
              ? { model: 'gpt-4', messages: [{ role: 'user', content: 'x' }], allowed_origins: [pageOrigin] }
              : undefined;
          const response = await server.api(path, { method, auth: credential, body });
          assert.equal(response.status, 401, `${method} ${path} with ${credential.slice(0, 4)}…`);
          assert.ok(!response.text.includes(credential));
        }
      }
    });

    test('keys and client tokens are stored only as hashes', async () => {
      const { db } = server.services.sql;
      const keys = await db.selectFrom('api_keys').selectAll().execute();
      const tokens = await db.selectFrom('public_tokens').selectAll().execute();
      assert.ok(tokens.length >= 3);
      const dump = JSON.stringify([keys, tokens, await db.selectFrom('public_keys').selectAll().execute()]);
      assert.ok(!dump.includes(published.key));
      assert.ok(!dump.includes(token));
      assert.ok(!dump.includes(token.slice(4, 30)));
      assert.ok(keys.some((k) => k.kind === 'public' && k.hash.length === 64));
    });

    test("the owner lists, and revokes, the agent's public keys; a revoked key mints nothing (404)", async () => {
      const second = await createKey(server, published.owner.basic, {});
      assert.match(second.key, /^API_/);
      const list = await server.api(`/api/v1/agents/${published.agent.uuid}/public-keys`, {
        auth: published.owner.basic,
      });
      assert.equal(list.status, 200);
      assert.deepEqual(
        list.body.map((k: { id: number }) => k.id),
        [published.keyRecord.id],
      );
      assert.ok(!list.text.includes(published.key));
      // Someone else's agent is not found.
      const stranger = await createKey(server, server.adminKey, {});
      const other = await publishAgent(server, { username: 'dominique', origins: [otherOrigin] });
      assert.equal(
        (await server.api(`/api/v1/agents/${other.agent.id}/public-keys`, { auth: published.owner.basic })).status,
        404,
      );
      assert.equal(
        (
          await server.api(`/api/v1/public-keys/${other.keyRecord.id}`, {
            method: 'DELETE',
            auth: published.owner.basic,
          })
        ).status,
        404,
      );
      assert.equal(
        (await server.api(`/api/v1/agents/${other.agent.id}/public-keys`, { auth: stranger.key })).status,
        200,
      );
      const revoked = await server.api(`/api/v1/public-keys/${published.keyRecord.id}`, {
        method: 'DELETE',
        auth: published.owner.basic,
      });
      assert.equal(revoked.status, 200);
      assert.ok(revoked.body.revoked_at);
      assert.equal((await mintToken(server, published.key, published.agent.id)).status, 404);
    });
  });
}
