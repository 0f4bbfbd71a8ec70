import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptedUpstream, type ScriptedUpstream } from '../../src/providers/mock/scripted-upstream.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { startTestServer, type Dialect, type TestServer } from '../helpers/server.ts';
import { parseSseWithIds } from '../helpers/sse-streams.ts';

/**
 * The models the spec documents name ("gpt-4", "gpt-3.5-turbo"), mapped by a config file onto the
 * scripted OpenAI-compatible upstream under distinct upstream names, so a test can tell which one
 * served a request. Any model name is answered by the upstream (it echoes the last user message,
 * or follows its [[…]] directives: docs/models.md).
 */
export const upstreamNames = { 'gpt-4': 'upstream-gpt-4', 'gpt-3.5-turbo': 'upstream-gpt-3.5' } as const;

/** Writes the config file mapping the documents' model names (and `extra` models); returns its path and a cleanup. */
export function writeModelsConfig(extra: Record<string, object> = {}): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'causerie-models-'));
  const path = join(dir, 'causerie.json');
  const models = Object.fromEntries(
    Object.entries(upstreamNames).map(([id, upstream]) => [id, { provider: 'openai', upstream, context_window: 8192 }]),
  );
  writeFileSync(path, JSON.stringify({ models: { ...models, ...extra } }));
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface ChatServer {
  server: TestServer;
  upstream: ScriptedUpstream;
  stop(): Promise<void>;
}

/** A whole Causerie on loopback whose "openai" provider is the scripted upstream. */
export async function startChatServer(
  dialect: Dialect,
  env: Record<string, string> = {},
  models: Record<string, object> = {},
  clock?: Clock,
): Promise<ChatServer> {
  const upstream = await startScriptedUpstream();
  const config = writeModelsConfig(models);
  let server: TestServer;
  try {
    server = await startTestServer({
      dialect,
      clock,
      env: {
        OPENAI_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: 'test-upstream-key',
        CAUSERIE_CONFIG: config.path,
        CAUSERIE_MODELS_REFRESH: '0',
        ...env,
      },
    });
  } catch (error) {
    await upstream.close();
    config.remove();
    throw error;
  }
  return {
    server,
    upstream,
    async stop() {
      await server.stop();
      await upstream.close();
      config.remove();
    },
  };
}

export interface SseEvent {
  event: string;
  data: string;
}

/** The events of an SSE body without their ids (tests that compare events, not where to resume). */
export const parseSse = (text: string): SseEvent[] => parseSseWithIds(text).map(({ event, data }) => ({ event, data }));

/** POSTs (or GETs) and reads a whole SSE answer. */
export async function sse(
  server: TestServer,
  path: string,
  options: { method?: string; body?: unknown; auth?: string } = {},
): Promise<{ status: number; headers: Headers; text: string; events: SseEvent[] }> {
  const auth = options.auth ?? server.adminKey;
  const response = await fetch(`${server.url}${path}`, {
    method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
    headers: {
      accept: 'text/event-stream',
      authorization: auth.includes(' ') ? auth : `Bearer ${auth}`,
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, text, events: parseSse(text) };
}

/**
 * Starts an SSE request and hands back a reader of raw chunks, so a test can read part of a stream
 * and then go away (abort) or kill the server.
 */
export async function openStream(url: string, init: RequestInit & { auth: string }) {
  const controller = new AbortController();
  const response = await fetch(url, {
    ...init,
    signal: controller.signal,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${init.auth}`,
      ...(init.headers as Record<string, string>),
    },
  });
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let received = '';
  return {
    response,
    /** Reads until `predicate(received)` holds; returns everything received so far. */
    async readUntil(predicate: (text: string) => boolean): Promise<string> {
      while (!predicate(received)) {
        const { value, done } = await reader.read();
        if (done) break;
        received += decoder.decode(value, { stream: true });
      }
      return received;
    },
    abort() {
      controller.abort();
    },
  };
}

export { eventually } from '../helpers/eventually.ts';
