import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseScript } from '../../src/providers/mock/script.ts';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';

describe("scripted upstream: the test double speaks OpenAI's wire format", () => {
  let upstream: ScriptedUpstream;
  before(async () => {
    upstream = await startScriptedUpstream({
      apiKey: 'k',
      reply: (body) => (body.model === 'fixed' ? 'From the script' : undefined),
    });
  });
  after(() => upstream.close());

  const post = (path: string, body: unknown, key = 'k') =>
    fetch(`${upstream.baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify(body),
    });

  test('streams chat.completion.chunk frames, the usage chunk when asked, and [DONE]', async () => {
    const response = await post('/chat/completions', {
      model: 'echo',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'hi there' }],
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const frames = (await response.text()).split('\n\n').filter(Boolean);
    assert.equal(frames.at(-1), 'data: [DONE]');
    const chunks = frames.slice(0, -1).map((frame) => JSON.parse(frame.replace(/^data: /, '')));
    assert.deepEqual(chunks[0].choices[0], {
      index: 0,
      delta: { role: 'assistant', content: '' },
      logprobs: null,
      finish_reason: null,
    });
    assert.equal(chunks[0].object, 'chat.completion.chunk');
    assert.equal(chunks[0].usage, null);
    assert.deepEqual(
      chunks.slice(1, 3).map((c) => c.choices[0].delta.content),
      ['hi ', 'there'],
    );
    assert.equal(chunks[3].choices[0].finish_reason, 'stop');
    assert.deepEqual(chunks[4], {
      ...chunks[4],
      choices: [],
      usage: { prompt_tokens: 2, completion_tokens: 2, total_tokens: 4 },
    });
  });

  test('answers JSON when not streaming; a reply function scripts the answer; requests are recorded', async () => {
    const response = await post('/chat/completions', {
      model: 'fixed',
      messages: [{ role: 'user', content: 'anything' }],
    });
    const body = await response.json();
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.choices[0].message.content, 'From the script');
    assert.equal(upstream.chatRequests().at(-1)!.body.model, 'fixed');
  });

  test('refuses a wrong key with 401 (quoting it, as OpenAI does); lists models; embeds as floats or base64', async () => {
    const refused = await post('/chat/completions', { model: 'echo', messages: [] }, 'bad');
    assert.equal(refused.status, 401);
    assert.match((await refused.json()).error.message, /bad/);
    const models = await (await fetch(`${upstream.baseUrl}/models`, { headers: { authorization: 'Bearer k' } })).json();
    assert.deepEqual(
      models.data.map((m: { id: string }) => m.id),
      ['echo', 'embed'],
    );
    const floats = await (await post('/embeddings', { model: 'embed', input: 'x' })).json();
    const packed = await (await post('/embeddings', { model: 'embed', input: 'x', encoding_format: 'base64' })).json();
    const bytes = Buffer.from(packed.data[0].embedding, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    assert.equal(decoded.length, 8);
    for (const [i, value] of decoded.entries()) assert.ok(Math.abs(value - floats.data[0].embedding[i]) < 1e-6);
  });

  test('[[echo-prompt]] answers with every message it received, so a test sees the context it was given', async () => {
    const response = await post('/chat/completions', {
      model: 'echo',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Quote this [[echo-prompt]]' },
      ],
    });
    assert.equal(
      (await response.json()).choices[0].message.content,
      'system: Be brief.\nuser: Quote this [[echo-prompt]]',
    );
  });

  test('directives parse out of the message; the rest is the echoed reply', () => {
    const script = parseScript('[[delay:20]] Hello [[fail-after:3]] world [[no-usage]] [[tool:f:{"a":[1,2]}]]');
    assert.equal(script.reply, 'Hello  world');
    assert.equal(script.delayMs, 20);
    assert.equal(script.failAfter, 3);
    assert.equal(script.usage, false);
    assert.deepEqual(script.tool, { name: 'f', arguments: '{"a":[1,2]}' });
    assert.equal(parseScript('[[reply:Fixed answer]] ignored').reply, 'Fixed answer');
  });
});
