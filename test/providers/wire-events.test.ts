import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventsOfCompletion } from '../../src/providers/openai-compatible/wire-events.ts';

const who = {
  provider: 'test',
  origin: 'http://127.0.0.1:1',
  keyVariable: 'TEST_API_KEY',
  secret: 'sk-provider-secret-123',
};

test("an upstream's in-body error never quotes the provider key and is cut at 300 characters", () => {
  const [quoting] = [
    ...eventsOfCompletion({ error: { message: 'Incorrect API key provided: sk-provider-secret-123' } }, who),
  ];
  assert.equal(quoting?.type, 'error');
  const message = quoting.type === 'error' ? quoting.error.message : '';
  assert.doesNotMatch(message, /sk-provider-secret-123/);
  assert.match(message, /Incorrect API key provided: \*\*\*/);
  const [long] = [...eventsOfCompletion({ error: 'x'.repeat(5000) }, who)];
  assert.ok(long?.type === 'error' && long.error.message.length < 400);
});
