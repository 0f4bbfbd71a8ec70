import assert from 'node:assert/strict';
import type { TestServer } from '../helpers/server.ts';
import type { SseEventWithId, StreamRequest } from '../helpers/sse-streams.ts';
import { browserAgent, mintToken, pageOrigin, publishAgent } from './public-agents-helpers.ts';

/** An answer long enough to drop in the middle of: `count` words, streamed a few ms apart. */
export const slowWords = (count: number, delayMs = 10) =>
  `${Array.from({ length: count }, (_, i) => `w${i}`).join(' ')} [[chunk-delay:${delayMs}]]`;

/** What a slowWords prompt is answered with (the scripted upstream echoes it without the directive). */
export const wordsAnswer = (count: number) => Array.from({ length: count }, (_, i) => `w${i}`).join(' ');

const json = (event: SseEventWithId) => {
  try {
    return JSON.parse(event.data);
  } catch {
    return undefined;
  }
};

/** One streaming surface: how to ask it for an answer, read the answer's text, and read what was stored. */
export interface StreamingSurface {
  name: string;
  /** Prepares (a session, a chat…) and returns the streaming request for `prompt`. */
  ask(prompt: string): Promise<{ request: StreamRequest; stored(): Promise<string | undefined> }>;
  text(events: SseEventWithId[]): string;
}

/** Every surface that streams answers, for a user (their id, an API key of theirs) on `server`. */
export function streamingSurfaces(server: TestServer, user: { id: number; key: string }): StreamingSurface[] {
  const key = user.key;
  const auth = { authorization: `Bearer ${key}` };
  const api = (path: string, options: { method?: string; body?: unknown } = {}) =>
    server.api(path, { auth: key, ...options });
  const newSession = async () => (await api('/api/v1/sessions', { method: 'POST', body: { model: 'gpt-4' } })).body;
  const lastOfSession = (id: number | string) => async () =>
    ((await api(`/api/v1/sessions/${id}/history`)).body as Array<{ content: string }>).at(-1)?.content;
  const deltas = (events: SseEventWithId[]) =>
    events
      .map(json)
      .filter((e) => e?.type === 'delta')
      .map((e) => e.content)
      .join('');
  const choices = (events: SseEventWithId[]) =>
    events
      .map(json)
      .map((e) => e?.choices?.[0]?.delta?.content ?? '')
      .join('');
  const tokens = (events: SseEventWithId[]) =>
    events
      .filter((e) => e.event === 'message' && e.data !== '[DONE]')
      .map((e) => e.data)
      .join('');
  return [
    {
      name: 'OpenAI chat completions',
      ask: async (prompt) => ({
        request: {
          url: `${server.url}/v1/chat/completions`,
          headers: auth,
          body: { model: 'gpt-4', stream: true, messages: [{ role: 'user', content: prompt }] },
        },
        stored: async () => undefined,
      }),
      text: choices,
    },
    {
      name: 'native completion without a session',
      ask: async (prompt) => ({
        request: {
          url: `${server.url}/api/v1/models/completions`,
          headers: auth,
          body: { model_id: 'gpt-4', prompt, stream: true },
        },
        stored: async () => undefined,
      }),
      text: deltas,
    },
    {
      name: 'native session (the sessions dialect)',
      ask: async (prompt) => {
        const session = await newSession();
        return {
          request: {
            url: `${server.url}/api/v1/sessions/${session.id}/models/completions`,
            headers: auth,
            body: { prompt, stream: true },
          },
          stored: lastOfSession(session.id),
        };
      },
      text: deltas,
    },
    {
      name: 'agent in a session (the sessions dialect)',
      ask: async (prompt) => {
        const agent = (await api('/api/v1/models/agents?name=Echo', { method: 'POST', body: { model_id: 'gpt-4' } }))
          .body;
        assert.ok(agent.id, JSON.stringify(agent));
        const session = await newSession();
        return {
          request: {
            url: `${server.url}/api/v1/sessions/${session.id}/models/agents/${agent.id}`,
            headers: auth,
            body: { prompt, stream: true },
          },
          stored: lastOfSession(session.id),
        };
      },
      text: deltas,
    },
    {
      name: 'chat service conversation (the chat-service dialect)',
      ask: async (prompt) => {
        const conversation = (
          await api('/conversations', { method: 'POST', body: { title: 'Resumed', user_id: user.id } })
        ).body;
        await api(`/conversations/${conversation.id}/messages`, { method: 'POST', body: { content: prompt } });
        return {
          request: {
            url: `${server.url}/conversations/${conversation.id}/messages:complete`,
            headers: auth,
            body: { stream: true },
          },
          stored: lastOfSession(conversation.id),
        };
      },
      text: choices,
    },
    {
      name: 'chat API session (the chat-API dialect)',
      ask: async (prompt) => {
        const session = await newSession();
        return {
          request: {
            url: `${server.url}/v1/chat/stream`,
            headers: auth,
            body: { model: 'gpt-4', session_id: session.id, messages: [{ role: 'user', content: prompt }] },
          },
          stored: lastOfSession(session.id),
        };
      },
      text: tokens,
    },
    {
      name: 'chat inference (the chats dialect)',
      ask: async (prompt) => {
        const chat = (await api('/chats/create', { method: 'POST', body: { name: 'Resumed' } })).body;
        await api('/conversations/create', {
          method: 'POST',
          body: { chat_id: chat.id, role: 'Human', message: prompt },
        });
        return {
          request: { url: `${server.url}/conversations/inference/${chat.id}`, headers: auth },
          stored: lastOfSession(chat.id),
        };
      },
      text: tokens,
    },
  ];
}

/** The public agent route (the public-agents dialect): a visitor's message to a published agent, owned by its client token. */
export async function publicSurface(server: TestServer): Promise<StreamingSurface> {
  const published = await publishAgent(server, { username: `owner${Date.now()}` });
  const deltas = (events: SseEventWithId[]) =>
    events
      .map(json)
      .filter((e) => e?.type === 'delta')
      .map((e) => e.content)
      .join('');
  return {
    name: 'public agent (the public-agents dialect)',
    ask: async (prompt) => {
      const minted = await mintToken(server, published.key, published.agent.id);
      assert.equal(minted.status, 200, minted.text);
      return {
        request: {
          url: `${server.url}/v1/chat/conversation/public/message`,
          headers: { origin: pageOrigin, 'user-agent': browserAgent },
          body: { client_token: minted.body.token, message: prompt, stream: true },
        },
        stored: async () => undefined,
      };
    },
    text: deltas,
  };
}

/** Asserts an answer read in pieces has every event once, in order: ids answer:1, answer:2, … without a gap. */
export function assertWholeSequence(events: SseEventWithId[], context: string) {
  const ids = events.filter((e) => e.id !== undefined).map((e) => e.id!);
  assert.ok(ids.length > 0, `${context}: events carry ids`);
  const answer = ids[0]!.split(':')[0];
  assert.deepEqual(
    ids,
    ids.map((_, index) => `${answer}:${index + 1}`),
    `${context}: one answer's events, numbered without gap or repeat`,
  );
}
