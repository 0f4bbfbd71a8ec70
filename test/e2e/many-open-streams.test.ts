import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Pool } from 'undici';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import { startTestServer, type TestServer } from '../helpers/server.ts';

const streams = 1000;

/** A promise with its resolve function outside, for a gate the test opens when it decides. */
function gate(): { opened: Promise<void>; open(): void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

// Regression: the provider's connection pool was capped at 256, so the 257th stream waited
// silently for one of the first to finish (a thousand slow streams waited a minute).
describe('a thousand streams open at once', () => {
  let upstream: ScriptedUpstream;
  let server: TestServer;
  // The upstream answers nobody until it holds all the requests at once, then sends each its first
  // text and holds the rest of every answer until the test has seen every client get that text.
  const allArrived = gate();
  const everyClientHasText = gate();
  let arrived = 0;
  let releasedBeforeAllArrived = false;

  before(async () => {
    upstream = await startScriptedUpstream({
      record: false,
      holdStreams: async (stage) => {
        if (stage === 'start') {
          if (++arrived === streams) allArrived.open();
          await allArrived.opened;
          if (arrived < streams) releasedBeforeAllArrived = true;
        } else {
          await everyClientHasText.opened;
        }
      },
    });
    server = await startTestServer({
      env: { OPENAI_BASE_URL: upstream.baseUrl, OPENAI_API_KEY: 'sk-test', CAUSERIE_MODELS_REFRESH: '0' },
    });
  });
  after(async () => {
    await server?.stop();
    await upstream?.close();
  });

  test('each client receives its first text while all are open, then all finish', async () => {
    const pool = new Pool(server.url, { connections: streams });
    let withText = 0;
    let finishedEarly = 0;
    const body = JSON.stringify({
      model: 'openai/echo',
      stream: true,
      messages: [{ role: 'user', content: 'first second third' }],
    });
    const one = async () => {
      const response = await pool.request({
        path: '/v1/chat/completions',
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}` },
        body,
      });
      assert.equal(response.statusCode, 200);
      let text = '';
      let counted = false;
      for await (const chunk of response.body) {
        text += chunk.toString();
        if (!counted && text.includes('first')) {
          counted = true;
          if (++withText === streams) everyClientHasText.open();
        }
      }
      if (withText < streams) finishedEarly++;
      return text;
    };
    try {
      const answers = await Promise.all(Array.from({ length: streams }, one));
      assert.equal(releasedBeforeAllArrived, false, 'the upstream held every request until it saw all of them');
      assert.equal(withText, streams);
      assert.equal(finishedEarly, 0, 'no stream finished before every client had its first text');
      for (const answer of answers) {
        assert.match(answer, /second/);
        assert.match(answer, /data: \[DONE\]/);
      }
    } finally {
      await pool.close();
    }
  });
});
