import { isoAt, type Clock } from '../clock.ts';
import { AppError, invalid, notFound } from '../errors.ts';
import { newUuid, parseReference } from '../ids.ts';
import { sha256 } from '../secrets.ts';
import { displayPrefix, type KeyLimits } from '../api-keys/api-keys.service.ts';
import type { ApiKeyRow, ApiKeysStore } from '../api-keys/api-keys.store.ts';
import type { AgentsService } from '../agents/agents.service.ts';
import type { Page } from '../conversations/conversations.types.ts';
import type { Actor } from '../users/users.service.ts';
import type { PublicAgentsStore, PublicKeyRow } from './public-agents.store.ts';
import {
  generatePublicKey,
  normalizeOrigin,
  type PublicKey,
  type PublicKeyEvent,
  type SuspiciousReason,
} from './public-agents.types.ts';
import type { VisitorLimits } from './visitor-limits.ts';
import { mayAccess } from '../users/authorization.ts';

export interface PublicKeysDeps {
  store: PublicAgentsStore;
  apiKeys: ApiKeysStore;
  agents: AgentsService;
  clock: Clock;
  /** Visitor limits of a key that sets none (from the config). */
  defaultVisitorLimits: VisitorLimits;
  /** Called after a key changes, so cached key limits are read again. */
  onChange?: () => void;
  /** Told the id of a key just revoked (answers running with it are stopped). */
  onRevoked?: (keyIds: number[]) => void | Promise<void>;
}

export interface CreatePublicKeyInput {
  allowed_origins: string[];
  name?: string;
  limits?: KeyLimits;
  visitor_limits?: Partial<VisitorLimits>;
}

const maxOrigins = 20;

/** Public keys, managed by an agent's owner: created for one agent and some origins, listed, revoked. */
export class PublicKeysService {
  private readonly deps: PublicKeysDeps;

  constructor(deps: PublicKeysDeps) {
    this.deps = deps;
  }

  /** The visitor limits a key applies: its own, the defaults for those it leaves out. */
  visitorLimits(row: PublicKeyRow): VisitorLimits {
    return { ...this.deps.defaultVisitorLimits, ...(JSON.parse(row.visitor_limits) as Partial<VisitorLimits>) };
  }

  async create(
    actor: Actor,
    agentReference: string,
    input: CreatePublicKeyInput,
  ): Promise<{ key: string; publicKey: PublicKey }> {
    const agent = await this.deps.agents.get(actor, agentReference);
    if (input.allowed_origins.length === 0)
      throw invalid('allowed_origins', 'name at least one web origin, like https://www.example.com');
    if (input.allowed_origins.length > maxOrigins) throw invalid('allowed_origins', `at most ${maxOrigins} origins`);
    const origins = new Set<string>();
    for (const given of input.allowed_origins) {
      const origin = normalizeOrigin(given);
      if (!origin)
        throw invalid(
          'allowed_origins',
          `"${given.slice(0, 100)}" is not a web origin (scheme://host[:port], no path)`,
        );
      origins.add(origin);
    }
    const key = generatePublicKey();
    const now = isoAt(this.deps.clock.now());
    // The agent's owner owns the key: what its visitors use is charged to them.
    const row = await this.deps.apiKeys.insert({
      uuid: newUuid(),
      user_id: agent.userId,
      name: input.name ?? null,
      prefix: displayPrefix(key),
      hash: sha256(key),
      kind: 'public',
      limits: input.limits ? JSON.stringify(input.limits) : null,
      created_at: now,
      last_used_at: null,
      expires_at: null,
      revoked_at: null,
    });
    const settings = {
      api_key_id: row.id,
      agent_id: agent.id,
      visitor_limits: JSON.stringify(input.visitor_limits ?? {}),
    };
    await this.deps.store.insertKey(settings, [...origins]);
    return { key, publicKey: this.present(row, settings, [...origins].sort(), agent.uuid) };
  }

  async list(actor: Actor, agentReference: string): Promise<PublicKey[]> {
    const agent = await this.deps.agents.get(actor, agentReference);
    const settings = await this.deps.store.listKeysOfAgent(agent.id);
    const ids = settings.map((s) => s.api_key_id);
    const origins = await this.deps.store.originsOf(ids);
    const keys = await Promise.all(ids.map((id) => this.deps.apiKeys.findById(id)));
    return settings.flatMap((s, index) => {
      const row = keys[index];
      if (!row) return [];
      return [
        this.present(
          row,
          s,
          origins.filter((o) => o.api_key_id === s.api_key_id).map((o) => o.origin),
          agent.uuid,
        ),
      ];
    });
  }

  /** Revokes a public key and every client token it minted; its visitors' next request is refused. */
  async revoke(actor: Actor, reference: string): Promise<PublicKey> {
    const parsed = parseReference(reference);
    const row =
      parsed &&
      ('id' in parsed ? await this.deps.apiKeys.findById(parsed.id) : await this.deps.apiKeys.findByUuid(parsed.uuid));
    const settings = row && row.kind === 'public' ? await this.deps.store.findKey(row.id) : undefined;
    if (!row || !settings || !mayAccess(actor, row.user_id)) throw notFound('Public key');
    const agent = await this.deps.agents.forConversation(settings.agent_id);
    let current = row;
    if (!row.revoked_at) {
      const now = isoAt(this.deps.clock.now());
      current = (await this.deps.apiKeys.update(row.id, { revoked_at: now })) ?? row;
      await this.deps.store.revokeTokensOfKey(row.id, now, 'key_revoked');
      this.deps.onChange?.();
      await this.deps.onRevoked?.([row.id]);
    }
    const origins = (await this.deps.store.originsOf([row.id])).map((o) => o.origin);
    return this.present(current, settings, origins, agent?.uuid ?? '');
  }

  /** The refused, suspicious uses of an agent's public keys, newest first. */
  async events(
    actor: Actor,
    agentReference: string,
    page: { limit: number; offset: number },
  ): Promise<Page<PublicKeyEvent>> {
    const agent = await this.deps.agents.get(actor, agentReference);
    const [rows, total] = await Promise.all([
      this.deps.store.listEvents(agent.id, page),
      this.deps.store.countEvents(agent.id),
    ]);
    return {
      total,
      items: rows.map((row) => ({
        id: row.id,
        public_key_id: row.api_key_id,
        reason: row.reason as SuspiciousReason,
        origin: row.origin,
        visitor: row.visitor,
        created_at: row.created_at,
      })),
    };
  }

  private present(row: ApiKeyRow, settings: PublicKeyRow, origins: string[], agentUuid: string): PublicKey {
    if (row.kind !== 'public') throw new AppError('internal_error', 'A public key row is not of kind public');
    return {
      id: row.id,
      uuid: row.uuid,
      agent_id: settings.agent_id,
      agent_uuid: agentUuid,
      name: row.name,
      prefix: row.prefix,
      allowed_origins: origins,
      limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : null,
      visitor_limits: this.visitorLimits(settings),
      created_at: row.created_at,
      last_used_at: row.last_used_at,
      revoked_at: row.revoked_at,
    };
  }
}
