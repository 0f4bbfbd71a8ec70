import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startModelsServer, type ModelsServer } from './models-helpers.ts';

// A long silence in a stream (a model thinking) must not look like a dead connection to proxies.
describe('SSE heartbeats', () => {
  let models: ModelsServer;
  before(async () => {
    models = await startModelsServer('sqlite', { env: { CAUSERIE_SSE_HEARTBEAT_MS: '100' } });
  });
  after(() => models.stop());

  const comments = (text: string) => text.split('\n').filter((line) => line === ': keep-alive').length;

  test('a stream silent for longer than the heartbeat carries keep-alive comments between its events', async () => {
    const response = await models.server.api('/v1/chat/completions', {
      method: 'POST',
      body: {
        model: 'openai/echo',
        stream: true,
        messages: [{ role: 'user', content: '[[chunk-delay:450]] one two' }],
      },
    });
    assert.equal(response.status, 200, response.text);
    assert.ok(comments(response.text) >= 2, response.text);
    assert.match(response.text, /"content":"one/);
    assert.ok(response.text.trimEnd().endsWith('data: [DONE]'));
  });
});
