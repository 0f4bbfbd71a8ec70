import { createHash, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseScript, piecesOf, wordCount, type Script } from './script.ts';
import { gloveVector } from './glove-vectors.ts';

// Not an ES import of node:http: that loads Node's bundled undici through its WebSocket getters (decision 026).
const { createServer } = process.getBuiltinModule('node:http');

/** A request the scripted upstream received, so tests can assert what Causerie sent. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whichever fields they assert on from the decoded body.
  body: any;
  /** performance.now() when it arrived. */
  receivedAt: number;
  /** The client's port: equal ports on successive requests mean a reused connection. */
  remotePort: number | undefined;
  /** performance.now() when the connection closed before the answer was complete (the caller went away). */
  closedEarlyAt?: number;
  /** Resolves once the response is over: completed or closed early. */
  settled: Promise<void>;
}

export interface ScriptedUpstreamOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** What GET /v1/models lists (default "echo" and "embed"); chat accepts any model name. */
  models?: string[];
  /** When set, every request must carry `Authorization: Bearer <apiKey>` or gets 401. */
  apiKey?: string;
  /** The answer when the message has no [[reply:...]]; default: the message echoed back. */
  reply?: (body: ChatBody) => string | undefined;
  /** Keep requests in `requests` (default true; the benchmark turns it off). */
  record?: boolean;
  /** Awaited before answering each embeddings request (a test holds indexing while it kills a server). */
  holdEmbeddings?: () => Promise<void>;
  /**
   * Awaited by each streamed chat answer at two points: 'start' before its response headers, and
   * 'rest' after its first text chunk (a test holds many streams open at once).
   */
  holdStreams?: (stage: 'start' | 'rest') => Promise<void>;
}

export interface ChatBody {
  model: string;
  messages: Array<{ role: string; content: unknown }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
  max_tokens?: number;
  [field: string]: unknown;
}

export interface ScriptedUpstream {
  /** http://127.0.0.1:<port> */
  url: string;
  /** url + "/v1": what OPENAI_BASE_URL should be. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** The chat requests only (POST /v1/chat/completions). */
  chatRequests(): RecordedRequest[];
  /** Requests to Mistral's Agents API (/v1/agents..., completions included). */
  agentRequests(): RecordedRequest[];
  /** The agents created on it (Mistral's Agents API), by id; deleted ones are gone. */
  agents: Map<string, ScriptedAgent>;
  close(): Promise<void>;
}

/** An agent as Mistral's Agents API keeps it. */
export interface ScriptedAgent {
  id: string;
  object: 'agent';
  model: string;
  name: string;
  description: string | null;
  instructions: string | null;
  tools: unknown[];
  completion_args: { temperature?: number; top_p?: number; max_tokens?: number };
  version: number;
  created_at: string;
  updated_at: string;
}

/** The fields Mistral's agent completion accepts; anything else is refused, like Mistral does. */
const agentCompletionFields = new Set([
  'agent_id',
  'messages',
  'max_tokens',
  'stream',
  'stop',
  'random_seed',
  'response_format',
  'tools',
  'tool_choice',
  'presence_penalty',
  'frequency_penalty',
  'n',
  'prediction',
  'parallel_tool_calls',
  'prompt_mode',
  'metadata',
]);

const textOf = (content: unknown): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content.map((part) => (part && typeof part === 'object' && 'text' in part ? String(part.text) : '')).join('')
      : '';

const lastUserText = (body: ChatBody) =>
  textOf([...(body.messages ?? [])].reverse().find((m) => m.role === 'user')?.content);

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}) {
  const text = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Destroys the connection once what was written has left (a destroy in the same tick would discard it). */
const dropSoon = (res: ServerResponse) => void setTimeout(() => res.destroy(), 10);

const errorBody = (message: string, type: string, code: string | null) => ({
  error: { message, type, param: null, code },
});

/** A deterministic unit-ish vector per text, so tests can compare embeddings. */
function vectorOf(text: string): number[] {
  const digest = createHash('sha256').update(text).digest();
  return Array.from({ length: 8 }, (_, i) => Math.round(((digest[i]! / 255) * 2 - 1) * 1e6) / 1e6);
}

/**
 * An OpenAI-compatible server on loopback that speaks the exact wire format (JSON and SSE) and is
 * scripted by directives in the last user message (see script.ts). It stands in for a real
 * provider in tests, benchmarks and the `mock` provider.
 */
export async function startScriptedUpstream(options: ScriptedUpstreamOptions = {}): Promise<ScriptedUpstream> {
  const requests: RecordedRequest[] = [];
  const failures = new Map<string, number>();
  const sockets = new Set<Socket>();
  const models = options.models ?? ['echo', 'embed'];
  const record = options.record ?? true;
  const agents = new Map<string, ScriptedAgent>();

  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (raw += chunk));
    req.on('end', () => {
      let body: ChatBody;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        return sendJson(
          res,
          400,
          errorBody('We could not parse the JSON body of your request.', 'invalid_request_error', null),
        );
      }
      let settle!: () => void;
      const entry: RecordedRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body,
        receivedAt: performance.now(),
        remotePort: req.socket.remotePort,
        settled: new Promise((r) => (settle = r)),
      };
      res.on('close', () => {
        if (!res.writableFinished) entry.closedEarlyAt = performance.now();
        settle();
      });
      if (record) requests.push(entry);
      handle(req, res, body).catch(() => res.destroy());
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse, body: ChatBody) {
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      // Like OpenAI, quote the key it got: Causerie must never pass this message on.
      const got = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      return sendJson(
        res,
        401,
        errorBody(`Incorrect API key provided: ${got}.`, 'invalid_request_error', 'invalid_api_key'),
      );
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/v1/models') {
      return sendJson(res, 200, {
        object: 'list',
        data: models.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'scripted' })),
      });
    }
    if (req.method === 'POST' && path === '/v1/embeddings') return embeddings(res, body);
    if (req.method === 'POST' && path === '/v1/chat/completions') return chat(res, body as ChatBody);
    if (path === '/v1/agents/completions' && req.method === 'POST') return agentCompletion(res, body);
    if (path === '/v1/agents' || path?.startsWith('/v1/agents/'))
      return agentsApi(req.method ?? 'GET', decodeURIComponent(path.slice('/v1/agents/'.length)), res, body);
    return sendJson(
      res,
      404,
      errorBody(`Unknown request URL: ${req.method} ${path}.`, 'invalid_request_error', 'unknown_url'),
    );
  }

  /**
   * Mistral's Agents API: create (POST /v1/agents), list, get, update (PATCH) and delete. An agent
   * whose name holds [[status:N]] is refused with that status, so tests can see creation fail.
   */
  function agentsApi(method: string, id: string, res: ServerResponse, body: ChatBody) {
    const now = new Date().toISOString();
    if (!id) {
      if (method === 'GET') return sendJson(res, 200, [...agents.values()]);
      if (method !== 'POST') return sendJson(res, 405, { detail: 'Method Not Allowed' });
      if (typeof body?.model !== 'string' || typeof body?.name !== 'string')
        return sendJson(res, 422, {
          object: 'error',
          message: 'model and name are required',
          type: 'invalid_request_error',
        });
      const status = parseScript(body.name).status;
      if (status) return sendJson(res, status, errorBody(`Scripted failure ${status}.`, 'invalid_request_error', null));
      const agent: ScriptedAgent = {
        id: `ag_${randomUUID().replaceAll('-', '')}`,
        object: 'agent',
        model: body.model,
        name: body.name,
        description: (body.description as string | undefined) ?? null,
        instructions: (body.instructions as string | undefined) ?? null,
        tools: (body.tools as unknown[] | undefined) ?? [],
        completion_args: body.completion_args ?? {},
        version: 0,
        created_at: now,
        updated_at: now,
      };
      agents.set(agent.id, agent);
      return sendJson(res, 200, agent);
    }
    const agent = agents.get(id);
    if (!agent)
      return sendJson(res, 404, {
        object: 'error',
        message: `Agent ${id} not found`,
        type: 'invalid_request_error',
        code: '3000',
      });
    if (method === 'GET') return sendJson(res, 200, agent);
    if (method === 'DELETE') {
      agents.delete(id);
      res.writeHead(204);
      return res.end();
    }
    if (method !== 'PATCH') return sendJson(res, 405, { detail: 'Method Not Allowed' });
    for (const field of ['model', 'name', 'description', 'instructions', 'tools', 'completion_args'] as const) {
      if (body?.[field] !== undefined) Object.assign(agent, { [field]: body[field] });
    }
    agent.version += 1;
    agent.updated_at = now;
    return sendJson(res, 200, agent);
  }

  /** POST /v1/agents/completions: the agent's model answers with its instructions first, as a system message. */
  function agentCompletion(res: ServerResponse, body: ChatBody) {
    const unknown = Object.keys(body ?? {}).filter(
      (field) => !agentCompletionFields.has(field) && body[field] !== undefined,
    );
    if (unknown.length) {
      return sendJson(res, 422, {
        object: 'error',
        message: {
          detail: unknown.map((field) => ({
            type: 'extra_forbidden',
            loc: ['body', field],
            msg: 'Extra inputs are not permitted',
          })),
        },
        type: 'invalid_request_error',
      });
    }
    const agent = agents.get(String(body?.agent_id));
    if (!agent)
      return sendJson(res, 404, {
        object: 'error',
        message: `Agent ${body?.agent_id} not found`,
        type: 'invalid_request_error',
        code: '3000',
      });
    const messages = [
      ...(agent.instructions ? [{ role: 'system', content: agent.instructions }] : []),
      ...(body.messages ?? []),
    ];
    const maxTokens = body.max_tokens ?? agent.completion_args.max_tokens;
    return chat(res, { ...body, agent_id: undefined, model: agent.model, messages, max_tokens: maxTokens });
  }

  async function embeddings(
    res: ServerResponse,
    body: { model?: string; input?: string | string[]; encoding_format?: string },
  ) {
    const inputs = Array.isArray(body?.input) ? body.input : [String(body?.input ?? '')];
    if (options.holdEmbeddings) {
      await options.holdEmbeddings();
      if (res.destroyed) return; // the caller went away (or was killed) meanwhile
    }
    // [[fail-first:N]] in an input: the first N requests carrying it answer 503 (retries can be seen).
    for (const text of inputs) {
      const failFirst = parseScript(text).failFirst;
      if (!failFirst) continue;
      const seen = failures.get(`embed:${text}`) ?? 0;
      failures.set(`embed:${text}`, seen + 1);
      if (seen < failFirst)
        return sendJson(res, 503, errorBody('The server is overloaded, try again.', 'server_error', null));
    }
    const data = inputs.map((text, index) => {
      // Model "glove": real word vectors (close meanings are close); any other: hashed vectors.
      const vector = body.model === 'glove' ? gloveVector(text) : vectorOf(text);
      const embedding =
        body.encoding_format === 'base64' ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return { object: 'embedding', index, embedding };
    });
    const tokens = inputs.reduce((sum, text) => sum + wordCount(text), 0);
    sendJson(res, 200, {
      object: 'list',
      data,
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  }

  async function chat(res: ServerResponse, body: ChatBody) {
    const content = lastUserText(body);
    const script = parseScript(content);
    if (!/\[\[reply:/.test(content) && options.reply) script.reply = options.reply(body) ?? script.reply;
    if (script.echoPrompt)
      script.reply = (body.messages ?? [])
        .map((m) => `${m.role}: ${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}`)
        .join('\n');
    if (script.drop) return res.destroy();
    if (script.delayMs) await sleep(script.delayMs);
    if (res.destroyed) return;
    if (script.failFirst) {
      const seen = failures.get(content) ?? 0;
      failures.set(content, seen + 1);
      if (seen < script.failFirst)
        return sendJson(res, 503, errorBody('The server is overloaded, try again.', 'server_error', null));
    }
    if (script.status) {
      const headers: Record<string, string> = script.retryAfter ? { 'retry-after': script.retryAfter } : {};
      return sendJson(
        res,
        script.status,
        errorBody(
          `Scripted failure ${script.status}.`,
          script.status === 429 ? 'rate_limit_error' : 'server_error',
          null,
        ),
        headers,
      );
    }
    if (script.hostile) return hostileAnswer(res, script.hostile, Boolean(body.stream));
    const promptTokens = (body.messages ?? []).reduce((sum, m) => sum + wordCount(textOf(m.content)), 0);
    let pieces = piecesOf(script.reply);
    let finish = script.tool ? 'tool_calls' : 'stop';
    if (script.tool) pieces = [];
    if (typeof body.max_tokens === 'number' && pieces.length > body.max_tokens) {
      pieces = pieces.slice(0, body.max_tokens);
      finish = 'length';
    }
    const completionTokens = script.tool ? 1 + Math.ceil(script.tool.arguments.length / 4) : pieces.length;
    const usage = {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    };
    const id = `chatcmpl-${randomUUID()}`;
    const created = Math.floor(Date.now() / 1000);
    const toolCall = script.tool && { id: `call_${randomUUID().slice(0, 8)}`, type: 'function', function: script.tool };
    if (!body.stream) return chatJson(res, body, script, { id, created, pieces, finish, usage, toolCall });

    const includeUsage = body.stream_options?.include_usage === true && script.usage;
    const frame = (choices: unknown[], extra?: object) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: null, choices, ...(includeUsage ? { usage: null } : {}), ...extra })}\n\n`;
    const choice = (delta: object, finishReason: string | null = null) => [
      { index: 0, delta, logprobs: null, finish_reason: finishReason },
    ];
    if (options.holdStreams) {
      await options.holdStreams('start');
      if (res.destroyed) return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.write(frame(choice({ role: 'assistant', content: '' })));
    if (script.hang) return; // the caller must go away; `closedEarlyAt` records when it did
    for (let i = 0; i < pieces.length; i++) {
      if (script.failAfter === i) {
        res.end(`data: ${JSON.stringify(errorBody('Scripted failure mid-stream.', 'server_error', null))}\n\n`);
        return;
      }
      if (script.dropAfter === i) return dropSoon(res);
      if (script.chunkDelayMs) await sleep(script.chunkDelayMs);
      if (i === 1 && options.holdStreams) await options.holdStreams('rest');
      if (res.destroyed) return;
      res.write(frame(choice({ content: pieces[i] })));
    }
    if (script.failAfter !== undefined || script.dropAfter !== undefined) {
      // Fewer chunks than the failure point: fail at the end, before finishing.
      if (script.dropAfter !== undefined) return dropSoon(res);
      return res.end(`data: ${JSON.stringify(errorBody('Scripted failure mid-stream.', 'server_error', null))}\n\n`);
    }
    if (toolCall) res.write(frame(choice({ tool_calls: [{ index: 0, ...toolCall }] })));
    res.write(frame(choice({}, finish)));
    if (includeUsage) res.write(frame([], { usage }));
    res.end('data: [DONE]\n\n');
  }

  /** What a malicious or broken provider sends: Causerie must stay bounded and say what went wrong. */
  async function hostileAnswer(res: ServerResponse, kind: NonNullable<Script['hostile']>, stream: boolean) {
    const type = stream ? 'text/event-stream' : 'application/json';
    const frame = (content: unknown) =>
      `data: {"id":"x","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":${JSON.stringify(content)}},"finish_reason":null}]}\n\n`;
    res.writeHead(200, { 'content-type': type });
    switch (kind) {
      case 'huge': {
        const text = 'x'.repeat(8 * 1024 * 1024);
        return res.end(
          stream
            ? `${frame(text)}data: [DONE]\n\n`
            : JSON.stringify({
                id: 'x',
                object: 'chat.completion',
                created: 1,
                model: 'm',
                choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
              }),
        );
      }
      case 'garbage':
        return res.end(stream ? 'data: {"choices": [\n\ndata: <html>oops</html>\n\n' : '{"choices": [ <html>');
      case 'invalid-utf8': {
        const bad = Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]);
        const [head, tail] = (
          stream
            ? frame('AB')
            : '{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"AB"},"finish_reason":"stop"}]}'
        ).split('AB');
        return res.end(
          Buffer.concat([Buffer.from(head!), bad, Buffer.from(tail!), Buffer.from(stream ? 'data: [DONE]\n\n' : '')]),
        );
      }
      case 'wrong-shape':
        return res.end(
          stream
            ? 'data: {"choices":"none","usage":{"prompt_tokens":"many"}}\n\ndata: {"choices":[{"delta":{"content":42}}]}\n\ndata: [DONE]\n\n'
            : '{"choices":[{"message":{"content":{"nested":true}}}],"usage":{"completion_tokens":-5}}',
        );
      case 'endless':
        while (!res.destroyed) {
          res.write(stream ? frame('word ') : ' ');
          await sleep(1);
        }
        return;
    }
  }

  function chatJson(
    res: ServerResponse,
    body: ChatBody,
    script: Script,
    answer: {
      id: string;
      created: number;
      pieces: string[];
      finish: string;
      usage: object;
      toolCall: object | undefined;
    },
  ) {
    const message = {
      role: 'assistant',
      content: answer.toolCall ? null : answer.pieces.join(''),
      ...(answer.toolCall ? { tool_calls: [answer.toolCall] } : {}),
      refusal: null,
    };
    const text = JSON.stringify({
      id: answer.id,
      object: 'chat.completion',
      created: answer.created,
      model: body.model,
      system_fingerprint: null,
      choices: [{ index: 0, message, logprobs: null, finish_reason: answer.finish }],
      ...(script.usage ? { usage: answer.usage } : {}),
    });
    if (script.failAfter !== undefined || script.dropAfter !== undefined || script.hang) {
      // After the first byte: headers and half the body, then the connection goes.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, text.length >> 1));
      if (!script.hang) dropSoon(res);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseUrl: `${url}/v1`,
    requests,
    chatRequests: () => requests.filter((r) => r.path.startsWith('/v1/chat/completions')),
    agentRequests: () => requests.filter((r) => r.path.startsWith('/v1/agents')),
    agents,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
