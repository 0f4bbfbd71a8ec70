import { isoAt, type Clock } from '../clock.ts';
import { AppError, notFound } from '../errors.ts';
import { sha256 } from '../secrets.ts';
import type { ApiKeyRow, ApiKeysStore } from '../api-keys/api-keys.store.ts';
import type { Agent } from '../agents/agents.types.ts';
import type { AgentsService } from '../agents/agents.service.ts';
import type { ConversationCompletions, ConversationRun } from '../conversations/conversation-completions.ts';
import type { ConversationsService } from '../conversations/conversations.service.ts';
import type { ModelCatalog } from '../conversations/conversations.types.ts';
import type { Actor } from '../users/users.service.ts';
import type { PublicAgentsStore, PublicKeyRow, PublicTokenRow } from './public-agents.store.ts';
import {
  anonymousId,
  generateClientToken,
  looksLikePublicKey,
  visitorOf,
  type PublicClient,
  type SuspiciousReason,
} from './public-agents.types.ts';
import type { PublicKeysService } from './public-keys.service.ts';
import type { VisitorCounters } from './visitor-limits.ts';

export interface PublicConversationsDeps {
  store: PublicAgentsStore;
  apiKeys: ApiKeysStore;
  keys: PublicKeysService;
  agents: AgentsService;
  conversations: ConversationsService;
  completions: ConversationCompletions;
  models: ModelCatalog;
  visitors: VisitorCounters;
  clock: Clock;
  /** Keys the visitor hash (the server's token secret). */
  secret: string;
  tokenTtlSeconds: number;
  /** Presentations of one token per 10 s beyond which it is revoked as abuse. */
  burstLimit: number;
}

/** A client token's answer: what the widget keeps until it expires. */
export interface ClientToken {
  token: string;
  expires_at: string;
  /** The conversation's UUID (never the owner's integer ids). */
  conversation_id: string;
}

/** A message of a public conversation as its visitor sees it. */
export interface PublicMessage {
  role: 'user' | 'assistant';
  content: string;
  created_at: string;
}

interface Validated {
  token: PublicTokenRow;
  key: ApiKeyRow;
  settings: PublicKeyRow;
  owner: Actor;
}

const keyNotFound = () => new AppError('not_found', 'Public key not found');
const refused = (message: string) => new AppError('forbidden', message);

/**
 * The public-agents dialect's public conversations: a public key mints client tokens, each bound to one new
 * conversation with the key's agent, the page origin and the visitor; the token then reads and
 * continues that conversation. Everything runs as the agent's owner through the public key, so
 * the owner's plan, the key's limits, storage and the agent's instructions all apply.
 */
export class PublicConversationsService {
  private readonly deps: PublicConversationsDeps;

  constructor(deps: PublicConversationsDeps) {
    this.deps = deps;
  }

  private now() {
    return this.deps.clock.now();
  }

  /** Whether a browser on this origin may call the public routes at all (some live public key lists it). */
  originAllowed(origin: string): Promise<boolean> {
    return this.deps.store.originAllowedByAnyKey(origin);
  }

  /** GET .../public/message/token/:modelId - 401 without a header, 404 for an unknown key or model. */
  async mintToken(authorization: string | undefined, modelId: string, client: PublicClient): Promise<ClientToken> {
    const credential = bearer(authorization);
    const key = looksLikePublicKey(credential) ? await this.deps.apiKeys.findByHash(sha256(credential)) : undefined;
    const now = this.now();
    if (key?.kind !== 'public' || key.revoked_at || (key.expires_at && Date.parse(key.expires_at) <= now))
      throw keyNotFound();
    const settings = await this.deps.store.findKey(key.id);
    const agent = settings && (await this.deps.agents.forConversation(settings.agent_id));
    if (!settings || !agent || !(await this.serves(agent, modelId))) throw notFound('Model');
    const origins = (await this.deps.store.originsOf([key.id])).map((o) => o.origin);
    const visitor = visitorOf(this.deps.secret, client);
    if (!client.origin || !origins.includes(client.origin)) {
      await this.record(key, settings.agent_id, undefined, 'origin_not_allowed', client.origin, visitor);
      throw refused("This page's origin is not allowed to use this public key (its owner lists the allowed origins)");
    }
    const limits = this.deps.keys.visitorLimits(settings);
    await this.deps.visitors.request(key.id, visitor, limits);
    const owner = ownerOf(key);
    const conversation = await this.deps.conversations.create(
      owner,
      {
        agent_id: agent.id,
        model: agent.model,
        metadata: { public: true, visitor: anonymousId(visitor), public_key: key.uuid },
      },
      { metered: false },
    );
    const token = generateClientToken();
    const expiresAt = isoAt(now + this.deps.tokenTtlSeconds * 1000);
    await this.deps.store.insertToken({
      hash: sha256(token),
      api_key_id: key.id,
      agent_id: agent.id,
      conversation_id: conversation.id,
      origin: client.origin,
      visitor,
      created_at: isoAt(now),
      expires_at: expiresAt,
      revoked_at: null,
      revoked_reason: null,
    });
    if (!key.last_used_at || Date.parse(key.last_used_at) + 60_000 <= now)
      await this.deps.apiKeys.touch(key.id, isoAt(now));
    return { token, expires_at: expiresAt, conversation_id: conversation.uuid };
  }

  /** GET .../public/messages/:token - 403 for a bad token, 404 when the conversation is gone. */
  async messages(token: string, client: PublicClient): Promise<PublicMessage[]> {
    const valid = await this.validate(token, client);
    const page = await this.deps.conversations.listMessages(valid.owner, valid.token.conversation_id, {
      limit: 1000,
      offset: 0,
    });
    return page.items
      .filter((m) => (m.role === 'user' || m.role === 'assistant') && m.status !== 'streaming' && m.content !== '')
      .map((m) => ({ role: m.role as PublicMessage['role'], content: m.content, created_at: m.created_at }));
  }

  /**
   * POST .../public/message - appends the visitor's message and starts the agent's answer. 403 for a
   * bad token (or a conversation that is gone), 429 beyond a visitor's, the key's or the owner's limits.
   */
  async send(
    input: { client_token: string; message: string; stream: boolean },
    client: PublicClient,
    signal: AbortSignal,
  ): Promise<ConversationRun> {
    const valid = await this.validate(input.client_token, client);
    const limits = this.deps.keys.visitorLimits(valid.settings);
    const ttlMs = Math.max(60_000, Date.parse(valid.token.expires_at) - this.now()) * 2;
    const admission = await this.deps.visitors.message(
      valid.key.id,
      valid.token.visitor,
      valid.token.conversation_id,
      limits,
      ttlMs,
    );
    let run: ConversationRun;
    try {
      run = await this.deps.completions.complete(
        valid.owner,
        {
          conversation: valid.token.conversation_id,
          messages: [{ role: 'user', content: input.message }],
          stream: input.stream,
        },
        { signal },
      );
    } catch (error) {
      await admission.refund().catch(() => {});
      if (error instanceof AppError && error.code === 'not_found')
        throw refused('The conversation of this client token no longer exists');
      throw error;
    }
    run.done
      .then(
        (reply) => admission.settle((reply.prompt_tokens ?? 0) + (reply.completion_tokens ?? 0)),
        () => admission.settle(0),
      )
      .catch(() => {});
    return run;
  }

  /** Whether a public key's agent answers to this id: the agent's id or UUID, or the model it uses. */
  private async serves(agent: Agent, modelId: string): Promise<boolean> {
    if (modelId === String(agent.id) || modelId === agent.uuid) return true;
    const model = agent.model ?? (await this.deps.models.defaultModel());
    return model !== undefined && modelId === model;
  }

  /**
   * A live token presented by the browser it was issued to. Anything else is refused (403); a
   * suspicious use also revokes the token and is recorded for the agent's owner.
   */
  private async validate(token: string, client: PublicClient): Promise<Validated> {
    const row = await this.deps.store.findTokenByHash(sha256(token));
    if (!row) throw refused('Invalid client token');
    const visitor = visitorOf(this.deps.secret, client);
    const key = await this.deps.apiKeys.findById(row.api_key_id);
    const settings = key && (await this.deps.store.findKey(key.id));
    if (!key || !settings) throw refused('Invalid client token');
    const suspicious = async (reason: SuspiciousReason, message: string): Promise<never> => {
      await this.deps.store.revokeToken(row.id, isoAt(this.now()), reason);
      await this.record(key, row.agent_id, row.id, reason, client.origin, visitor);
      throw refused(message);
    };
    const now = this.now();
    if (row.revoked_at) {
      await this.record(key, row.agent_id, row.id, 'revoked_token_replayed', client.origin, visitor);
      throw refused('This client token has been revoked; get a new one');
    }
    if (key.revoked_at || (key.expires_at && Date.parse(key.expires_at) <= now))
      await suspicious('key_revoked', 'The public key of this client token has been revoked');
    if (Date.parse(row.expires_at) <= now)
      await suspicious('expired_token_replayed', 'This client token has expired; get a new one');
    if (client.origin !== row.origin)
      await suspicious('origin_mismatch', 'This client token was issued to another origin; it is now revoked');
    if (visitor !== row.visitor)
      await suspicious('visitor_mismatch', 'This client token was issued to another client; it is now revoked');
    if (!(await this.deps.visitors.withinBurst(row.id, this.deps.burstLimit)))
      await suspicious('burst', 'This client token was used far faster than a person types; it is now revoked');
    return { token: row, key, settings, owner: ownerOf(key) };
  }

  /**
   * Records a refused use, at most once per token (or per key, before any token), reason and
   * minute: a script replaying a token does not become a flood of rows.
   */
  private async record(
    key: ApiKeyRow,
    agentId: number,
    tokenId: number | undefined,
    reason: SuspiciousReason,
    origin: string | undefined,
    visitor: string,
  ) {
    const subject = tokenId !== undefined ? `t${tokenId}` : `k${key.id}`;
    if (!(await this.deps.visitors.firstThisMinute(subject, reason))) return;
    await this.deps.store.insertEvent({
      api_key_id: key.id,
      agent_id: agentId,
      token_id: tokenId ?? null,
      reason,
      origin: origin?.slice(0, 200) ?? null,
      visitor: anonymousId(visitor),
      created_at: isoAt(this.now()),
    });
  }
}

/**
 * The agent's owner, acting through the public key: never with an administrator's powers, and
 * with the key's id so the limits gate charges the key's own limits too.
 */
const ownerOf = (key: ApiKeyRow): Actor => ({ userId: key.user_id, role: 'user', apiKeyId: key.id });

/** The credential of an `Authorization: Bearer ...` header; 401 when there is none. */
function bearer(header: string | undefined): string {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'Authorization: Bearer <public key> is required');
  return match[1]!;
}
