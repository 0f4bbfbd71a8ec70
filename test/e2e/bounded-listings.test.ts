import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects, startTestServer, type TestServer } from '../helpers/server.ts';
import { signUp } from '../helpers/platform.ts';

// A history page used to carry every message of every session (30 MB answers), and writes that
// call no model were not metered at all.
for (const dialect of dialects) {
  describe(`listings with messages inline are bounded (${dialect})`, () => {
    let server: TestServer;
    let sessionId: number;
    before(async () => {
      server = await startTestServer({ dialect, env: { CAUSERIE_MOCK_PROVIDER: 'true' } });
      const created = await server.api('/conversations', { method: 'POST', body: { title: 'long' } });
      sessionId = created.body.id;
      for (let i = 0; i < 105; i++) {
        const added = await server.api(`/conversations/${sessionId}/messages`, {
          method: 'POST',
          body: { role: i % 2 ? 'assistant' : 'user', content: `message ${i}` },
        });
        assert.equal(added.status, 201, added.text);
      }
    });
    after(() => server.stop());

    test('history shows the newest 20 messages of each session by default, messages_limit up to 100, and the total', async () => {
      const history = await server.api('/v1/chat/history');
      const session = history.body.sessions.find((s: { id: number }) => s.id === sessionId);
      assert.equal(session.messages_total, 105);
      assert.equal(session.messages.length, 20);
      assert.equal(session.messages[0].content, 'message 85');
      assert.equal(session.messages.at(-1).content, 'message 104');
      const five = await server.api('/v1/chat/history?messages_limit=5');
      assert.deepEqual(
        five.body.sessions
          .find((s: { id: number }) => s.id === sessionId)
          .messages.map((m: { content: string }) => m.content),
        ['message 100', 'message 101', 'message 102', 'message 103', 'message 104'],
      );
      assert.equal((await server.api('/v1/chat/history?messages_limit=101')).status, 400);
    });

    test('switch-model shows the newest 100 messages and the total', async () => {
      const switched = await server.api('/v1/chat/switch-model', {
        method: 'POST',
        body: { session_id: sessionId, model: 'mock/echo' },
      });
      assert.equal(switched.status, 200, switched.text);
      assert.equal(switched.body.messages_total, 105);
      assert.equal(switched.body.messages.length, 100);
      assert.equal(switched.body.messages[0].content, 'message 5');
    });
  });
}

describe('writes that call no model are metered per user', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { CAUSERIE_WRITES_PER_MINUTE: '4', CAUSERIE_WRITE_CHARS_PER_DAY: '2000' } });
  });
  after(() => server.stop());

  test('past CAUSERIE_WRITES_PER_MINUTE writes, and past CAUSERIE_WRITE_CHARS_PER_DAY characters, 429; other users are not affected', async () => {
    const user = await signUp(server, 'writer');
    const created = await server.api('/conversations', { method: 'POST', auth: user.basic, body: { title: 't' } });
    assert.equal(created.status, 201);
    const add = (content: string, auth = user.basic) =>
      server.api(`/conversations/${created.body.id}/messages`, {
        method: 'POST',
        auth,
        body: { role: 'user', content },
      });
    assert.equal((await add('a'.repeat(1500))).status, 201);
    const tooMuch = await add('b'.repeat(600));
    assert.equal(tooMuch.status, 429, tooMuch.text);
    assert.match(tooMuch.body.detail, /2000 characters/);
    assert.equal((await add('small')).status, 201);
    const tooOften = await add('again');
    assert.equal(tooOften.status, 429);
    assert.match(tooOften.body.detail, /4 a minute/);
    assert.ok(Number(tooOften.headers.get('retry-after')) > 0);
    const messages = await server.api(`/conversations/${created.body.id}/messages`, { auth: user.basic });
    assert.deepEqual(
      messages.body.map((m: { content: string }) => m.content.length),
      [1500, 5],
      'refused writes stored nothing',
    );
    const other = await server.api('/conversations', { method: 'POST', body: { title: 'admin is not affected' } });
    assert.equal(other.status, 201);
  });
});
