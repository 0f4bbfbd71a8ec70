import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../helpers/server.ts';
import type { Json } from '../helpers/wire.ts';

export const model = 'mock/echo';

/** Forty short words the scripted upstream replies, one token each; max_tokens cuts them. */
export const longReply = Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');

export interface ChatResult {
  status: number;
  headers: Headers;
  body: Json;
}

/** POST /v1/chat/completions (JSON answer) with an API key. */
export async function chat(
  url: string,
  key: string,
  content: string,
  extra: Record<string, unknown> = {},
): Promise<ChatResult> {
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }], ...extra }),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body };
}

/**
 * A streaming chat. With `abortAfterChunks`, the client goes away after that many SSE frames
 * (a cancelled stream); otherwise it reads to the end.
 */
export async function streamChat(
  url: string,
  key: string,
  content: string,
  options: { max_tokens?: number; abortAfterChunks?: number } = {},
) {
  const controller = new AbortController();
  const response = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      model,
      messages: [{ role: 'user', content }],
      stream: true,
      max_tokens: options.max_tokens,
    }),
    signal: controller.signal,
  });
  if (response.status !== 200)
    return {
      status: response.status,
      headers: response.headers,
      body: await response.json(),
      frames: 0,
      cancelled: false,
    };
  let frames = 0;
  let cancelled = false;
  const reader = response.body!.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      frames += new TextDecoder()
        .decode(value)
        .split('\n\n')
        .filter((f) => /(^|\n)data:/.test(f)).length;
      if (options.abortAfterChunks !== undefined && frames >= options.abortAfterChunks) {
        cancelled = true;
        controller.abort();
        break;
      }
    }
  } catch (error) {
    if (!cancelled) throw error;
  }
  return { status: 200, headers: response.headers, body: undefined, frames, cancelled };
}

/** The usage rows of one key, straight from the ledger. */
export async function ledgerOf(server: TestServer, keyId: number) {
  return server.services.sql.db
    .selectFrom('usage_records')
    .selectAll()
    .where('api_key_id', '=', keyId)
    .orderBy('id')
    .execute();
}

/** Waits until the ledger holds `count` rows for the key (cancelled streams write theirs after the client left). */
export async function waitForLedger(server: TestServer, keyId: number, count: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await ledgerOf(server, keyId);
    if (rows.length >= count) return rows;
    if (Date.now() > deadline)
      throw new Error(`the ledger holds ${rows.length} rows for key ${keyId}, expected ${count}`);
    await sleep(50);
  }
}

export const tokensOf = (rows: Array<{ prompt_tokens: number; completion_tokens: number }>) =>
  rows.reduce((sum, row) => sum + row.prompt_tokens + row.completion_tokens, 0);
