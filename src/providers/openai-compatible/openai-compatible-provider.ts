import { setTimeout as sleep } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import { Pool } from '../../lib/undici.ts';
import { ProviderError } from '../provider-error.ts';
import type {
  ChatRequest,
  Provider,
  ProviderAgentDefinition,
  ProviderAgents,
  ProviderModel,
  ProviderStreamEvent,
  Usage,
} from '../provider.ts';
import {
  isRetryableTransportError,
  retryableStatuses,
  transportError,
  upstreamStatusError,
  type UpstreamIdentity,
} from './upstream-errors.ts';
import { eventsOfCompletion, eventsOfSse } from './wire-events.ts';
import { ConnectionSlots, type ConnectionStats } from './connection-slots.ts';
import { UpstreamBody } from './upstream-stream.ts';
import { defaultOutboundPolicy, guardedConnector, type OutboundPolicy } from '../web/connect-guard.ts';

export interface ProviderTimeouts {
  /** Opening the TCP (and TLS) connection. */
  connectMs: number;
  /** From sending the request to the response headers (a non-streamed answer's whole generation). */
  firstByteMs: number;
  /** Silence allowed between two body chunks. */
  idleMs: number;
}

export interface OpenAiCompatibleOptions {
  id: string;
  /** "mock" for the scripted provider; otherwise the default. */
  kind?: 'openai-compatible' | 'mock';
  /** Where /chat/completions, /embeddings and /models live, e.g. https://api.mistral.ai/v1. */
  baseUrl: string;
  apiKey?: string;
  /** The variable holding the key, named when the upstream refuses it. */
  keyVariable?: string;
  /** Extra headers on every call (OpenRouter's HTTP-Referer, ...). */
  headers?: Record<string, string>;
  timeouts: ProviderTimeouts;
  /** Retries before the first byte (connection errors, 502, 503, 504). */
  retries: number;
  /** Send stream_options.include_usage on streamed calls (OpenAI and most servers report usage only then). */
  streamUsage?: boolean;
  /** Name of the seed field upstream: Mistral calls it random_seed and refuses unknown fields. */
  seedField?: 'seed' | 'random_seed';
  /**
   * Most requests in flight to this provider at once (one connection each); unset: no cap, a
   * connection is opened whenever none is free. Over the cap a request waits `connectionWaitMs`
   * at most, then fails with 503 upstream_busy.
   */
  maxConnections?: number;
  /** How long a request over `maxConnections` waits for a free connection (default 10 s). */
  connectionWaitMs?: number;
  /**
   * Offer HTTP/2 when connecting over TLS (default true): a provider that speaks it (ALPN) then
   * carries many answers on one connection instead of a TLS handshake and socket each. Plain
   * http:// (a local server) always speaks HTTP/1.1.
   */
  http2?: boolean;
  /** Where a provider at its connection cap is reported (at most every 10 s). */
  warn?: (message: string) => void;
  /**
   * The provider has Mistral's Agents API: /agents (create, update, delete) and /agents/completions,
   * which a ChatRequest with `agentId` is sent to.
   */
  agentsApi?: boolean;
  /** Where connections may go (SSRF): checked on the address each connection resolves to. Default: no link-local or metadata address. */
  outbound?: OutboundPolicy;
}

const backoffMs = (attempt: number) => Math.min(2_000, 100 * 2 ** attempt) * (0.5 + Math.random() / 2);

/**
 * One adapter for every server that speaks OpenAI's /v1/chat/completions, /v1/embeddings and
 * /v1/models. It keeps a pool of keep-alive connections to the provider, retries only before the
 * first byte, and parses streams incrementally (see wire-events.ts). It is the hot path: one
 * JSON.stringify out, one JSON.parse per chunk in, nothing else per chunk.
 */
export class OpenAiCompatibleProvider implements Provider {
  readonly id: string;
  readonly kind: 'openai-compatible' | 'mock';
  private readonly pool: Pool;
  private readonly slots: ConnectionSlots;
  private readonly pathPrefix: string;
  private readonly headers: Record<string, string>;
  private readonly who: UpstreamIdentity;
  private readonly options: OpenAiCompatibleOptions;
  private readonly seedField: 'seed' | 'random_seed';
  readonly agents?: ProviderAgents;

  constructor(options: OpenAiCompatibleOptions) {
    this.options = options;
    this.id = options.id;
    this.kind = options.kind ?? 'openai-compatible';
    this.seedField = options.seedField ?? 'seed';
    const base = new URL(options.baseUrl);
    this.pathPrefix = base.pathname.replace(/\/+$/, '');
    this.slots = new ConnectionSlots({
      provider: options.id,
      max: options.maxConnections,
      waitMs: options.connectionWaitMs ?? 10_000,
      warn: options.warn,
    });
    this.pool = new Pool(base.origin, {
      // The cap, when there is one, is enforced by the slots (visibly, with a bounded wait), not by
      // the pool's own queue, where a request would wait silently for as long as the others take.
      connections: options.maxConnections ?? null,
      allowH2: options.http2 !== false,
      connect: guardedConnector(options.outbound ?? defaultOutboundPolicy, {
        timeout: options.timeouts.connectMs,
        allowH2: options.http2 !== false,
      }),
      keepAliveTimeout: 30_000,
      headersTimeout: options.timeouts.firstByteMs,
      bodyTimeout: options.timeouts.idleMs,
    });
    this.headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...options.headers,
      ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}),
    };
    this.who = { provider: options.id, origin: base.origin, keyVariable: options.keyVariable, secret: options.apiKey };
    if (options.agentsApi) this.agents = this.agentsApi();
  }

  /** Mistral's Agents API: the agent's definition, kept in step with Causerie's. */
  private agentsApi(): ProviderAgents {
    const read = async (response: Dispatcher.ResponseData) => {
      const body = (await response.body.json().catch(() => undefined)) as { id?: unknown } | undefined;
      if (typeof body?.id !== 'string')
        throw new ProviderError(this.id, 'failed', `Provider "${this.id}" answered without an agent id`);
      return { id: body.id };
    };
    const encode = (definition: ProviderAgentDefinition) =>
      JSON.stringify({ ...definition, tools: definition.tools ?? undefined });
    return {
      create: async (definition, { signal }) => read(await this.call('POST', '/agents', encode(definition), signal)),
      update: async (id, definition, { signal }) => {
        await (await this.call('PATCH', `/agents/${encodeURIComponent(id)}`, encode(definition), signal)).body.dump();
      },
      remove: async (id, { signal }) => {
        await (await this.call('DELETE', `/agents/${encodeURIComponent(id)}`, undefined, signal)).body.dump();
      },
    };
  }

  /** Mistral's agent completion: the agent holds the model, instructions and sampling settings. */
  private agentBody(request: ChatRequest, streamed: boolean): string {
    return JSON.stringify({
      agent_id: request.agentId,
      messages: request.messages,
      max_tokens: request.max_tokens,
      stop: request.stop,
      random_seed: request.seed,
      presence_penalty: request.presence_penalty,
      frequency_penalty: request.frequency_penalty,
      tools: request.tools,
      tool_choice: request.tool_choice,
      response_format: request.response_format,
      stream: streamed,
    });
  }

  async stream(request: ChatRequest, { signal }: { signal: AbortSignal }): Promise<AsyncIterable<ProviderStreamEvent>> {
    const streamed = request.stream !== false;
    const viaAgent = this.agents !== undefined && request.agentId !== undefined;
    const body = viaAgent
      ? this.agentBody(request, streamed)
      : JSON.stringify({
          model: request.model,
          messages: request.messages,
          temperature: request.temperature,
          top_p: request.top_p,
          max_tokens: request.max_tokens,
          stop: request.stop,
          [this.seedField]: request.seed,
          presence_penalty: request.presence_penalty,
          frequency_penalty: request.frequency_penalty,
          tools: request.tools,
          tool_choice: request.tool_choice,
          response_format: request.response_format,
          stream: streamed,
          stream_options: streamed && this.options.streamUsage !== false ? { include_usage: true } : undefined,
        });
    const path = viaAgent ? '/agents/completions' : '/chat/completions';
    if (!streamed) return toAsync(eventsOfCompletion(await this.completionOf(path, body, signal), this.who));
    return eventsOfSse(await this.callStreamed(path, body, signal), this.who, signal, this.options.timeouts);
  }

  /**
   * A non-streamed answer, read whole before returning so a failure still becomes a proper HTTP
   * status. Read through a handler of its own rather than undici's request(): a body stream per
   * answer cost more than the parsing (about a tenth of a JSON completion's CPU time).
   */
  private async completionOf(path: string, body: string, signal: AbortSignal) {
    const text = await this.callWhole('POST', path, body, signal);
    try {
      return JSON.parse(text) as Parameters<typeof eventsOfCompletion>[0];
    } catch {
      throw new ProviderError(this.id, 'failed', `Provider "${this.id}" sent malformed JSON`);
    }
  }

  async embed(
    input: string[],
    model: string,
    { signal }: { signal: AbortSignal },
  ): Promise<{ embeddings: number[][]; usage: Usage }> {
    const response = await this.call(
      'POST',
      '/embeddings',
      JSON.stringify({ model, input, encoding_format: 'float' }),
      signal,
    );
    const body = (await response.body.json()) as {
      data?: Array<{ index?: number; embedding?: number[] }>;
      usage?: { prompt_tokens?: number };
    };
    const data = [...(body.data ?? [])].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    if (data.length !== input.length || data.some((item) => !Array.isArray(item.embedding))) {
      throw new ProviderError(
        this.id,
        'failed',
        `Provider "${this.id}" returned ${data.length} embeddings for ${input.length} inputs`,
      );
    }
    return {
      embeddings: data.map((item) => item.embedding!),
      usage: { prompt_tokens: body.usage?.prompt_tokens ?? 0, completion_tokens: 0 },
    };
  }

  async listModels({ signal }: { signal: AbortSignal }): Promise<ProviderModel[]> {
    const response = await this.call('GET', '/models', undefined, signal);
    const body = (await response.body.json()) as {
      data?: Array<Record<string, unknown>>;
      models?: Array<Record<string, unknown>>;
    };
    const list = body.data ?? body.models ?? [];
    return list
      .filter((item) => typeof item.id === 'string')
      .map((item) => {
        const window = item.context_length ?? item.max_model_len ?? item.context_window;
        return { id: item.id as string, contextWindow: typeof window === 'number' && window > 0 ? window : undefined };
      });
  }

  /** Requests in flight and waiting for a connection (for /metrics). */
  connectionStats(): ConnectionStats {
    return this.slots.stats();
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /** An answer read whole: a 2xx's body as text. A body that fails after a 2xx's headers is not retried (the upstream answered). */
  private callWhole(method: 'POST', path: string, body: string, signal: AbortSignal): Promise<string> {
    return this.withRetries<string>(signal, async (release) => {
      let response: WholeResponse;
      try {
        response = await readWhole(
          this.pool,
          { method, path: this.pathPrefix + path, headers: this.headers, body },
          signal,
        );
      } catch (error) {
        if (!(error instanceof BodyFailure) || signal.aborted) throw error;
        if (error.statusCode < 300) throw transportError(this.who, error.cause, this.options.timeouts);
        response = { statusCode: error.statusCode, headers: error.headers, text: '' };
      }
      release();
      return response.statusCode < 300 ? { ok: response.text } : { ...response, text: async () => response.text };
    });
  }

  /** A streamed answer: a 2xx's body as text chunks read by a dispatch handler of its own (see UpstreamBody). */
  private callStreamed(path: string, body: string, signal: AbortSignal): Promise<UpstreamBody> {
    return this.withRetries<UpstreamBody>(signal, async (release) => {
      const request = { method: 'POST' as const, path: this.pathPrefix + path, headers: this.headers, body };
      const response = await UpstreamBody.open(this.pool, request, signal, release);
      return response.statusCode < 300 ? { ok: response } : { ...statusOf(response), text: () => response.text() };
    });
  }

  /** Sends one request and returns a 2xx response with its body unread. */
  private call(
    method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
    path: string,
    body: string | undefined,
    signal: AbortSignal,
  ): Promise<Dispatcher.ResponseData> {
    return this.withRetries<Dispatcher.ResponseData>(signal, async (release) => {
      const response = await this.pool.request({
        method,
        path: this.pathPrefix + path,
        headers: this.headers,
        body,
        signal,
      });
      if (response.statusCode >= 300) return { ...statusOf(response), text: () => response.body.text() };
      // 'end' when read to the end (before a json() or text() resolves), 'close' when abandoned.
      response.body.once('end', release).once('close', release);
      return { ok: response };
    });
  }

  /**
   * Sends a request under the provider's rules: a connection slot per attempt, transport errors
   * and 502/503/504 retried with backoff, every other failure a ProviderError at once. `send`
   * makes one attempt; a 2xx's value frees the slot when `send` says (when its body is read), and
   * a ProviderError it throws is final.
   */
  private async withRetries<T>(signal: AbortSignal, send: (release: () => void) => Promise<Attempt<T>>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // Held until the answer is read to its end (or abandoned): that is when its connection is free.
      const release = await this.slots.acquire(signal);
      let outcome: Attempt<T>;
      try {
        outcome = await send(release);
      } catch (error) {
        release();
        if (signal.aborted) throw signal.reason;
        if (error instanceof ProviderError) throw error;
        if (attempt < this.options.retries && isRetryableTransportError(error)) {
          await sleep(backoffMs(attempt), undefined, { signal });
          continue;
        }
        throw transportError(this.who, error, this.options.timeouts);
      }
      if ('ok' in outcome) return outcome.ok;
      let text = '';
      try {
        text = await outcome.text();
      } catch {}
      release();
      if (attempt < this.options.retries && retryableStatuses.has(outcome.statusCode)) {
        await sleep(backoffMs(attempt), undefined, { signal });
        continue;
      }
      throw upstreamStatusError(this.who, outcome.statusCode, outcome.headers, text);
    }
  }
}

type ResponseHeaders = Dispatcher.ResponseData['headers'];

/** One attempt: a 2xx's value, or another status and a way to read its explanation. */
type Attempt<T> = { ok: T } | { statusCode: number; headers: ResponseHeaders; text: () => Promise<string> };

const statusOf = (response: { statusCode: number; headers: ResponseHeaders }) => ({
  statusCode: response.statusCode,
  headers: response.headers,
});

/** A response read to its end. */
interface WholeResponse {
  statusCode: number;
  headers: ResponseHeaders;
  text: string;
}

/** The body failed after the response's headers came (carried so a 2xx is not retried). */
class BodyFailure {
  readonly statusCode: number;
  readonly headers: ResponseHeaders;
  readonly cause: unknown;

  constructor(statusCode: number, headers: ResponseHeaders, cause: unknown) {
    this.statusCode = statusCode;
    this.headers = headers;
    this.cause = cause;
  }
}

/** Sends one request and reads its response whole; rejects with the transport's error, or the signal's reason. */
function readWhole(pool: Pool, options: Dispatcher.DispatchOptions, signal: AbortSignal): Promise<WholeResponse> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason); // not even a connection for it
    let controller: Dispatcher.DispatchController | undefined;
    let statusCode = 0;
    let headers: ResponseHeaders = {};
    const chunks: Buffer[] = [];
    const onAbort = () => controller?.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    pool.dispatch(options, {
      onRequestStart(started) {
        controller = started;
        if (signal.aborted) started.abort(signal.reason);
      },
      onResponseStart(_controller, status, responseHeaders) {
        if (status < 200) return;
        statusCode = status;
        headers = responseHeaders;
      },
      onResponseData(_controller, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        signal.removeEventListener('abort', onAbort);
        const text = chunks.length === 1 ? chunks[0]!.toString() : Buffer.concat(chunks).toString();
        // As a fetch-style reader would, a byte-order mark is not part of the JSON.
        resolve({ statusCode, headers, text: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text });
      },
      onResponseError(_controller, error) {
        signal.removeEventListener('abort', onAbort);
        reject(statusCode ? new BodyFailure(statusCode, headers, error) : error);
      },
    });
  });
}

/** Events already at hand as an async iterable: one resolved promise per event, not an async generator's chain. */
function toAsync<T>(items: Iterable<T>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]() {
      const iterator = items[Symbol.iterator]();
      return {
        next: async () => iterator.next(),
        return: async (value?: unknown) => {
          iterator.return?.();
          return { done: true as const, value: value as T };
        },
      };
    },
  };
}
