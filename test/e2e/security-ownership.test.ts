import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp, type SignedUpUser } from '../helpers/platform.ts';
import { dialects, type TestServer } from '../helpers/server.ts';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

/**
 * Cross-user security review: every route that takes someone's resource answers another (non-admin)
 * user 404 whatever the id form and the surface, changes nothing, and admins see everything;
 * admin-only routes answer 403; 401 messages never echo a credential; lists are bounded.
 * (The spec files cover the routes they document; this file covers the rest.)
 */
for (const dialect of dialects) {
  describe(`security: ownership, admin routes, secrets, bounds (${dialect})`, () => {
    let chat: ChatServer;
    let server: TestServer;
    let alice: SignedUpUser;
    let mallory: SignedUpUser;
    let aliceKey: { key: string; id: number; body: Json };
    let session: Json;
    let messages: Json[];
    let mallorySession: Json;

    before(async () => {
      chat = await startChatServer(dialect);
      server = chat.server;
      alice = await signUp(server, 'alice-sec');
      mallory = await signUp(server, 'mallory-sec');
      aliceKey = await createKey(server, alice.basic, { name: 'alice key' });
      session = (
        await server.api('/api/v1/sessions', {
          method: 'POST',
          body: { title: 'private', model: 'gpt-4' },
          auth: alice.basic,
        })
      ).body;
      const completion = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: 'secret plans' },
        auth: alice.basic,
      });
      assert.equal(completion.status, 200, completion.text);
      messages = (await server.api(`/api/v1/sessions/${session.id}/history`, { auth: alice.basic })).body;
      assert.equal(messages.length, 2);
      mallorySession = (
        await server.api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' }, auth: mallory.basic })
      ).body;
    });
    after(() => chat.stop());

    const as =
      (who: SignedUpUser) =>
      (path: string, method = 'GET', body?: unknown) =>
        server.api(path, { method, body, auth: who.basic });

    test("another user's conversation, messages, usage and limits answer 404 on every surface and id form, and nothing changes", async () => {
      const m = as(mallory);
      const refusals: Array<[string, string, unknown?]> = [];
      for (const ref of [String(session.id), session.uuid, session.uuid.toUpperCase()]) {
        refusals.push(
          [`/api/v1/sessions/${ref}`, 'GET'],
          [`/api/v1/sessions/${ref}`, 'PATCH', { title: 'pwned' }],
          [`/api/v1/sessions/${ref}`, 'PATCH', { model: 'gpt-3.5-turbo' }],
          [`/api/v1/sessions/${ref}/history`, 'GET'],
          [`/api/v1/sessions/${ref}/models/completions`, 'POST', { prompt: 'hi' }],
          [`/api/v1/sessions/${ref}/messages/${messages[0].id}`, 'GET'],
          [`/api/v1/sessions/${ref}/messages/${messages[0].uuid}`, 'DELETE'],
          [`/conversations/${ref}/messages`, 'GET'],
          [`/conversations/${ref}/messages`, 'POST', { content: 'injected' }],
          [`/conversations/${ref}/messages:complete`, 'POST', { stream: false }],
          ['/v1/chat/stream', 'POST', { session_id: ref, stream: false, messages: [{ role: 'user', content: 'hi' }] }],
          ['/v1/chat/switch-model', 'POST', { session_id: ref, model: 'gpt-3.5-turbo' }],
          [`/chats/${ref}`, 'GET'],
          [`/chats/update/${ref}`, 'PUT', { name: 'pwned' }],
          ['/conversations/create', 'POST', { chat_id: ref, role: 'Human', message: 'injected' }],
          [`/conversations/inference/${ref}`, 'GET'],
          [`/v1/chat/sessions/${ref}`, 'DELETE'],
          [`/chats/delete/${ref}`, 'DELETE'],
          [`/api/v1/sessions/${ref}`, 'DELETE'],
        );
      }
      for (const ref of [String(messages[1].id), messages[1].uuid]) {
        refusals.push(
          [`/api/v1/messages/${ref}`, 'GET'],
          [`/api/v1/messages/${ref}`, 'DELETE'],
          // Alice's message named inside Mallory's own session.
          [`/api/v1/sessions/${mallorySession.id}/messages/${ref}`, 'GET'],
          [`/api/v1/sessions/${mallorySession.id}/messages/${ref}`, 'DELETE'],
        );
      }
      refusals.push([
        '/v1/chat/stream',
        'POST',
        { session_id: session.id, stream: false, messages: [{ role: 'user', content: 'hi' }] },
      ]);
      for (const ref of [String(alice.id), alice.uuid, alice.username]) {
        refusals.push(
          [`/users/${ref}/conversations`, 'GET'],
          [`/users/${ref}`, 'GET'],
          [`/api/v1/usage?user=${ref}`, 'GET'],
          [`/api/v1/limits?user=${ref}`, 'GET'],
        );
      }
      for (const ref of [String(aliceKey.id), aliceKey.body.uuid])
        refusals.push([`/api/v1/keys/${ref}`, 'GET'], [`/api/v1/keys/${ref}`, 'DELETE']);
      for (const [path, method, body] of refusals) {
        const response = await m(path, method, body);
        assert.equal(response.status, 404, `${method} ${path}: ${response.text}`);
        assert.doesNotMatch(response.text, /secret plans|private/, `${method} ${path} leaked content`);
      }

      // Alice's data is untouched, and her key still works.
      const a = as(alice);
      const mine = await a(`/api/v1/sessions/${session.uuid}`);
      assert.equal(mine.status, 200);
      assert.equal(mine.body.title, 'private');
      assert.equal(mine.body.model, 'gpt-4');
      assert.deepEqual((await a(`/api/v1/sessions/${session.id}/history`)).body, messages);
      assert.equal((await server.api('/api/v1/me', { auth: aliceKey.key })).status, 200);
      assert.equal((await m(`/api/v1/sessions/${mallorySession.id}/history`)).body.length, 0);

      // Mallory may still name herself.
      assert.equal((await m(`/api/v1/usage?user=${mallory.username}`)).body.user_id, mallory.id);
      assert.equal((await m(`/api/v1/limits?user=${mallory.id}`)).body.user_id, mallory.id);
      assert.equal((await m('/api/v1/usage?all=true')).status, 403);
    });

    test("admins see and act on every user's resources", async () => {
      const admin = (path: string, method = 'GET', body?: unknown) => server.api(path, { method, body });
      assert.equal((await admin(`/api/v1/sessions/${session.uuid}`)).body.id, session.id);
      assert.equal((await admin(`/api/v1/messages/${messages[0].uuid}`)).body.content, 'secret plans');
      assert.equal((await admin(`/chats/${session.id}`)).body.id, session.uuid);
      assert.equal((await admin(`/conversations/${session.uuid}/messages`)).body.length, 2);
      assert.equal((await admin(`/users/${alice.uuid}/conversations`)).body.length, 1);
      assert.equal((await admin(`/api/v1/keys/${aliceKey.body.uuid}`)).body.user_id, alice.id);
      assert.equal((await admin(`/api/v1/usage?user=${alice.uuid}`)).body.user_id, alice.id);
      assert.equal((await admin(`/api/v1/limits?user=${alice.username}`)).body.user_id, alice.id);
      assert.equal(
        (await admin(`/api/v1/sessions/${session.id}`, 'PATCH', { title: 'renamed by admin' })).body.title,
        'renamed by admin',
      );
    });

    test('admin-only routes answer 403 to a user, and change nothing', async () => {
      const m = as(mallory);
      const forbidden: Array<[string, string, unknown?]> = [
        ['/api/v1/users', 'GET'],
        [`/api/v1/users/${alice.id}`, 'PATCH', { disabled: true }],
        [`/api/v1/users/${mallory.id}`, 'PATCH', { disabled: false }],
        [`/api/v1/users/${alice.uuid}/plan`, 'PUT', { plan: null }],
        ['/api/v1/plans', 'GET'],
        ['/api/v1/plans', 'POST', { name: 'free-for-me' }],
        ['/api/v1/plans/1', 'GET'],
        ['/api/v1/plans/1', 'PATCH', { name: 'x' }],
        ['/api/v1/plans/1', 'DELETE'],
        [`/api/v1/keys/${aliceKey.id}/limits`, 'PUT', {}],
        ['/api/v1/keys', 'POST', { user_id: alice.id }],
        ['/api/v1/models/gpt-4', 'DELETE'],
        ['/users', 'POST', { username: 'mallory-admin', password: 'password-123', role: 'admin' }],
      ];
      for (const [path, method, body] of forbidden) {
        const response = await m(path, method, body);
        assert.equal(response.status, 403, `${method} ${path}: ${response.text}`);
        assert.equal(response.body.code, 'forbidden');
      }
      assert.equal((await as(alice)('/api/v1/me')).status, 200);
      assert.equal((await m('/api/v1/models/gpt-4')).status, 200);
      assert.equal((await server.api('/users/mallory-admin')).status, 404);
    });

    test('no response carries a hash or a full key after creation; 401 messages never echo the credential', async () => {
      const listed = await as(alice)('/api/v1/keys');
      const everything = [
        listed.text,
        (await as(alice)(`/api/v1/keys/${aliceKey.id}`)).text,
        (await as(alice)('/api/v1/me')).text,
        (await server.api('/api/v1/users')).text,
      ];
      const row = await server.services.sql.db
        .selectFrom('api_keys')
        .select('hash')
        .where('id', '=', aliceKey.id)
        .executeTakeFirstOrThrow();
      const user = await server.services.sql.db
        .selectFrom('users')
        .select('password_hash')
        .where('id', '=', alice.id)
        .executeTakeFirstOrThrow();
      for (const text of everything) {
        for (const secret of [
          aliceKey.key,
          aliceKey.key.slice(8),
          row.hash,
          user.password_hash,
          alice.password,
          'test-upstream-key',
        ])
          assert.ok(!text.includes(secret));
        assert.doesNotMatch(text, /password|hash|\$argon2/i);
      }
      const credentials = [
        aliceKey.key,
        `${aliceKey.key} extra`,
        `Token ${aliceKey.key}`,
        `Bearer ${aliceKey.key}x`,
        `Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl`,
        `Basic ${Buffer.from(`${alice.username}:wrong-${alice.password}`).toString('base64')}`,
      ];
      for (const credential of credentials) {
        const response = await server.api('/api/v1/me', { auth: null, headers: { authorization: credential } });
        assert.equal(response.status, 401, credential);
        for (const part of credential.split(' '))
          if (part.length > 8)
            assert.ok(!response.text.toLowerCase().includes(part.toLowerCase()), `401 echoed ${part}`);
        assert.ok(!response.text.includes(alice.password));
      }
    });

    test('lists are bounded: at most 100 per page everywhere, keys included', async () => {
      for (const path of [
        '/api/v1/sessions?limit=101',
        `/api/v1/sessions/${session.id}/history?limit=101`,
        '/api/v1/keys?limit=101',
        '/chats?limit=101',
        '/v1/chat/history?page_size=101',
        '/api/v1/users?limit=101',
      ]) {
        assert.equal((await server.api(path)).status, 400, path);
      }
      const long = 'x'.repeat(250);
      for (const path of [
        `/api/v1/models/a/${long}`,
        `/v1/models/a/${long}`,
        `/api/v1/usage?user=${long}`,
        `/api/v1/limits?user=${long}`,
        `/api/v1/sessions?model=${long}`,
      ]) {
        const response = await server.api(path);
        assert.equal(response.status, 400, path);
        assert.ok(!response.text.includes(long), `${path} echoed the oversized input`);
      }
      await createKey(server, alice.basic, { name: 'second' });
      const first = await as(alice)('/api/v1/keys?limit=1');
      const second = await as(alice)('/api/v1/keys?limit=1&offset=1');
      assert.deepEqual([first.body.length, second.body.length], [1, 1]);
      assert.equal(first.body[0].id, aliceKey.id);
      assert.equal(second.body[0].name, 'second');
    });
  });
}
