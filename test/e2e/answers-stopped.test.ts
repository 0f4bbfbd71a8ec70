import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/server.ts';
import { createKey, signUp } from '../helpers/platform.ts';
import { eventually, openStream, startChatServer, type ChatServer } from './conversations-helpers.ts';

const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');

// A stream used to keep delivering after its key was revoked and its user disabled.
for (const dialect of dialects) {
  describe(`running answers stop when their credential goes (${dialect})`, () => {
    // Revocation is tested under the default duration cap, so only revocation can stop those streams.
    let chat: ChatServer;
    let capped: ChatServer;
    before(async () => {
      chat = await startChatServer(dialect);
      capped = await startChatServer(dialect, { CAUSERIE_MAX_ANSWER_SECONDS: '2' });
    });
    after(async () => {
      await chat.stop();
      await capped.stop();
    });

    /** Starts a slow the chat-API dialect stream with `key`, reads its first token, and returns the stream. */
    async function slowStream(key: string, content = `${words} [[chunk-delay:100]]`, on = chat) {
      const stream = await openStream(`${on.server.url}/v1/chat/stream`, {
        method: 'POST',
        auth: key,
        body: JSON.stringify({ model: 'gpt-4', messages: [{ role: 'user', content }] }),
      });
      assert.equal(stream.response.status, 200);
      await stream.readUntil((text) => text.includes('w0'));
      return stream;
    }

    test('revoking the key ends its stream at once; the reply is kept, cancelled', async () => {
      const user = await signUp(chat.server, `revoked-${dialect}`);
      const { key, id } = await createKey(chat.server, user.basic);
      const stream = await slowStream(key);
      assert.equal((await chat.server.api(`/api/v1/keys/${id}`, { method: 'DELETE', auth: user.basic })).status, 200);
      const text = await stream.readUntil(() => false);
      assert.ok(!text.includes('w59'), 'the answer did not run to its end');
      const session = await eventually(
        async () => {
          const history = await chat.server.api('/v1/chat/history?page_size=1', { auth: user.basic });
          const reply = await chat.server.api(`/api/v1/sessions/${history.body.sessions[0].id}/history`, {
            auth: user.basic,
          });
          return reply.body.find(
            (m: { role: string; status: string }) => m.role === 'assistant' && m.status === 'cancelled',
          );
        },
        { what: 'the reply stored as cancelled' },
      );
      assert.match(session.content, /^w0/);
    });

    test('disabling the user ends their streams', async () => {
      const user = await signUp(chat.server, `disabled-${dialect}`);
      const { key } = await createKey(chat.server, user.basic);
      const stream = await slowStream(key);
      assert.equal(
        (await chat.server.api(`/api/v1/users/${user.id}`, { method: 'PATCH', body: { disabled: true } })).status,
        200,
      );
      const text = await stream.readUntil(() => false);
      assert.ok(!text.includes('w59'));
    });

    test('no answer runs longer than CAUSERIE_MAX_ANSWER_SECONDS, even from a model that never stops', async () => {
      const user = await signUp(capped.server, `endless-${dialect}`);
      const { key } = await createKey(capped.server, user.basic);
      const stream = await slowStream(key, `${words} [[chunk-delay:200]]`, capped);
      const text = await stream.readUntil(() => false);
      assert.ok(!text.includes('w59'), 'stopped long before its end (12 s at this pace)');
      const session = (await capped.server.api('/v1/chat/history?page_size=1', { auth: key })).body.sessions[0];
      const reply = await eventually(
        async () => {
          const messages = (await capped.server.api(`/api/v1/sessions/${session.id}/history`, { auth: key })).body;
          return messages.find(
            (m: { role: string; status: string }) => m.role === 'assistant' && m.status === 'cancelled',
          );
        },
        { what: 'the endless reply stopped and stored as cancelled' },
      );
      assert.match(reply.content, /^w0 w1/);
    });
  });
}
