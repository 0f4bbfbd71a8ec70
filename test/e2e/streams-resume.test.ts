import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createKey, signUp } from '../helpers/platform.ts';
import { joinedEvents, readSseStream, resumeSseStream } from '../helpers/sse-streams.ts';
import { eventually, startChatServer, type ChatServer } from './conversations-helpers.ts';
import {
  assertWholeSequence,
  publicSurface,
  slowWords,
  streamingSurfaces,
  wordsAnswer,
  type StreamingSurface,
} from './streams-resume-helpers.ts';

/**
 * Embedded mode: a client whose connection breaks at any event sends the same request again with
 * Last-Event-ID and reads the rest of the same answer, on every surface that streams: nothing
 * missing, nothing twice, and the text it pieced together is the stored reply. The answer goes on
 * while nobody reads it (the grace period), and can be resumed after it finished too.
 */
describe('resumable streams (embedded)', () => {
  let chat: ChatServer;
  let user: { id: number; key: string };
  let other: string;
  const surfaces: StreamingSurface[] = [];

  before(async () => {
    chat = await startChatServer('sqlite', { CAUSERIE_STREAM_RESUME_GRACE_SECONDS: '60' });
    const account = await signUp(chat.server, 'lea');
    user = { id: account.id, key: (await createKey(chat.server, account.basic)).key };
    other = (await createKey(chat.server, (await signUp(chat.server, 'mallory')).basic)).key;
    surfaces.push(...streamingSurfaces(chat.server, user), await publicSurface(chat.server));
  });
  after(() => chat.stop());

  test('every surface: dropped at a random event, resumed with Last-Event-ID, the answer is whole and stored as read', async () => {
    const words = 30;
    for (const surface of surfaces) {
      const { request, stored } = await surface.ask(slowWords(words));
      // At least one event read, and the drop before the end of the text.
      const dropAfter = 1 + Math.floor(Math.random() * (words - 2));
      const context = `${surface.name}, dropped after ${dropAfter} events`;
      const first = await readSseStream(request, { dropAfter });
      assert.equal(first.status, 200, `${context}: ${first.text}`);
      assert.equal(first.ended, false, `${context}: the first read was cut short`);
      const rest = await resumeSseStream(request, first.lastEventId!, { via: dropAfter % 2 ? 'header' : 'query' });
      assert.equal(rest.status, 200, `${context}: ${rest.text}`);
      assert.ok(rest.ended, `${context}: the resumed stream ends by itself`);
      const events = joinedEvents(first, rest);
      assertWholeSequence(events, context);
      assert.equal(surface.text(events), wordsAnswer(words), `${context}: the pieces make the whole answer`);
      const storedText = await stored();
      if (storedText !== undefined)
        assert.equal(storedText, surface.text(events), `${context}: equals the stored reply`);
    }
  });

  test('an answer that finished while the client was away is replayed from the log, then ends as it did', async () => {
    const surface = surfaces.find((s) => s.name === 'native session (the sessions dialect)')!;
    const { request, stored } = await surface.ask(slowWords(12, 5));
    const first = await readSseStream(request, { dropAfter: 3 });
    const finished = await eventually(
      async () => {
        const text = await stored();
        return text === wordsAnswer(12) ? text : undefined;
      },
      { what: 'the reply stored complete' },
    );
    const rest = await resumeSseStream(request, first.lastEventId!);
    assert.ok(rest.ended);
    const events = joinedEvents(first, rest);
    assertWholeSequence(events, 'after completion');
    assert.equal(surface.text(events), finished);
    const end = events.map((e) => e.data).filter((d) => d.startsWith('{"type":"end"'));
    assert.equal(end.length, 1, 'the end event once');
    assert.equal(events.at(-1)!.data, '[DONE]');
    // Resuming from the very last event: 204, which tells an EventSource to stop reconnecting.
    const nothing = await resumeSseStream(request, events.at(-1)!.id!);
    assert.equal(nothing.status, 204);
    assert.deepEqual(nothing.events, []);
  });

  test("someone else's answer, or an id that is not ours, cannot be resumed (nothing is asked of the model)", async () => {
    const surface = surfaces.find((s) => s.name === 'OpenAI chat completions')!;
    const { request } = await surface.ask('Bonjour');
    const whole = await readSseStream(request);
    const asked = chat.upstream.chatRequests().length;
    const stranger = await resumeSseStream(
      { ...request, headers: { authorization: `Bearer ${other}` } },
      whole.events[0]!.id!,
    );
    assert.equal(stranger.status, 410);
    assert.equal(JSON.parse(stranger.text).error.code, 'stream_not_resumable');
    const unknown = await resumeSseStream(request, '00000000-0000-4000-8000-000000000000:3');
    assert.equal(unknown.status, 410);
    const garbage = await resumeSseStream(request, 'not-an-id');
    assert.equal(garbage.status, 400);
    assert.match(JSON.parse(garbage.text).error.message, /Last-Event-ID/);
    assert.equal(chat.upstream.chatRequests().length, asked, 'no new answer was started');
  });
});
