import type { Clock } from '../../src/domain/clock.ts';
import type { Agent } from '../../src/domain/agents/agents.types.ts';
import { signUp, type SignedUpUser } from '../helpers/platform.ts';
import type { ApiResponse, Dialect, TestServer } from '../helpers/server.ts';
import { parseSse, startChatServer, type ChatServer, type SseEvent } from './conversations-helpers.ts';
import type { Json } from '../helpers/wire.ts';

export const pageOrigin = 'https://shop.example';
export const otherOrigin = 'https://evil.example';
export const browserAgent = 'Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0';

export type PublicServer = ChatServer;

/** A whole Causerie whose models ("gpt-4", …) are answered by the scripted upstream, with an optional clock. */
export function startPublicServer(
  dialect: Dialect,
  options: { env?: Record<string, string>; clock?: Clock } = {},
): Promise<PublicServer> {
  return startChatServer(dialect, options.env, {}, options.clock);
}

export interface PublishedAgent {
  owner: SignedUpUser;
  agent: Agent;
  /** The public key (PUB_…) and its record. */
  key: string;
  keyRecord: Json;
}

/** An owner (signed up), their agent (made through the agents service) and a public key for it. */
export async function publishAgent(
  server: TestServer,
  options: {
    username?: string;
    owner?: SignedUpUser;
    origins?: string[];
    body?: Record<string, unknown>;
    instructions?: string;
  } = {},
): Promise<PublishedAgent> {
  const owner = options.owner ?? (await signUp(server, options.username ?? 'camille'));
  const agent = await server.services.agents.create(
    { userId: owner.id, role: 'user' },
    { name: 'Conseiller', model: 'gpt-4', instructions: options.instructions ?? 'Tu es le conseiller de la boutique.' },
  );
  const response = await server.api(`/api/v1/agents/${agent.id}/public-keys`, {
    method: 'POST',
    auth: owner.basic,
    body: { allowed_origins: options.origins ?? [pageOrigin], name: 'boutique', ...options.body },
  });
  if (response.status !== 201) throw new Error(`public key creation failed: ${response.status} ${response.text}`);
  return { owner, agent, key: response.body.key, keyRecord: response.body };
}

/** A browser-like call of a public route: an Origin and a user agent, JSON in and out. */
export async function publicCall(
  server: TestServer,
  path: string,
  options: { method?: string; body?: unknown; auth?: string; origin?: string | null; userAgent?: string } = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = { 'user-agent': options.userAgent ?? browserAgent };
  if (options.origin !== null) headers.origin = options.origin ?? pageOrigin;
  if (options.auth) headers.authorization = options.auth;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${server.url}${path}`, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: response.status, headers: response.headers, body, text };
}

/** GET the token route with a public key. */
export const mintToken = (
  server: TestServer,
  key: string,
  modelId: string | number,
  options: { origin?: string | null; userAgent?: string } = {},
) => publicCall(server, `/v1/chat/conversation/public/message/token/${modelId}`, { auth: `Bearer ${key}`, ...options });

/** POST a visitor's message; with stream, the SSE events are parsed. */
export async function sendPublic(
  server: TestServer,
  body: { client_token: string; message: string; stream?: boolean },
  options: { origin?: string | null; userAgent?: string } = {},
): Promise<ApiResponse & { events: SseEvent[] }> {
  const response = await publicCall(server, '/v1/chat/conversation/public/message', {
    method: 'POST',
    body,
    ...options,
  });
  return { ...response, events: body.stream ? parseSse(response.text) : [] };
}
