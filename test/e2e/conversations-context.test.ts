import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { dialects } from '../helpers/server.ts';
import { startChatServer, type ChatServer } from './conversations-helpers.ts';
import type { WireMessage } from '../helpers/wire.ts';

/**
 * A conversation longer than the model's context window: the history sent is cut to fit, the
 * oldest messages dropped first and the system prompt kept; everything stays in the history.
 */
for (const dialect of dialects) {
  describe(`history fitted to the context window (${dialect})`, () => {
    let chat: ChatServer;
    before(async () => {
      chat = await startChatServer(
        dialect,
        {},
        { 'gpt-small': { provider: 'openai', upstream: 'small', context_window: 200 } },
      );
    });
    after(() => chat.stop());

    test('oldest messages are left out of the request, the system prompt and the newest kept', async () => {
      const { server, upstream } = chat;
      const session = (
        await server.api('/api/v1/sessions', {
          method: 'POST',
          body: { model: 'gpt-small', system_prompt: 'Be brief.' },
        })
      ).body;
      const stored: string[] = [];
      for (let i = 0; i < 6; i++) {
        // About 50 tokens each by the estimate (4 characters a token): 150 fit in 200 minus the answer's share.
        const content = `message ${i} `.padEnd(180, '.');
        stored.push(content);
        const response = await server.api(`/conversations/${session.id}/messages`, {
          method: 'POST',
          body: { content, role: i % 2 ? 'assistant' : 'user' },
        });
        assert.equal(response.status, 201);
      }
      const response = await server.api(`/api/v1/sessions/${session.id}/models/completions`, {
        method: 'POST',
        body: { prompt: 'And now?' },
      });
      assert.equal(response.status, 200, response.text);
      const sent = upstream
        .chatRequests()
        .at(-1)!
        .body.messages.map((m: WireMessage) => m.content);
      assert.equal(sent[0], 'Be brief.');
      assert.equal(sent.at(-1), 'And now?');
      const kept = sent.slice(1, -1);
      assert.ok(kept.length < stored.length, `expected some history left out, sent ${kept.length} of ${stored.length}`);
      assert.ok(kept.length >= 1, 'the newest messages that fit are sent');
      assert.deepEqual(
        kept,
        stored.slice(stored.length - kept.length),
        'what is sent is the newest part of the history, in order',
      );
      const history = (await server.api(`/api/v1/sessions/${session.id}/history`)).body;
      assert.equal(history.length, 8, 'nothing is removed from the history itself');
    });
  });
}
