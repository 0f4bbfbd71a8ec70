import { AppError, invalid, notFound } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { newUuid, parseReference } from '../ids.ts';
import { randomBase32, sha256 } from '../secrets.ts';
import type { Actor } from '../users/users.service.ts';
import type { ApiKeyRow, ApiKeysStore } from './api-keys.store.ts';
import { assertAdmin, isAdmin, mayAccess } from '../users/authorization.ts';

/** Limits a key may carry on top of its owner's plan. */
export interface KeyLimits {
  requests_per_minute?: number;
  requests_per_day?: number;
  tokens_per_day?: number;
  tokens_per_month?: number;
  concurrent_streams?: number;
  searches_per_day?: number;
}

export interface ApiKey {
  id: number;
  uuid: string;
  user_id: number;
  name: string | null;
  prefix: string;
  kind: 'secret' | 'public';
  limits: KeyLimits | null;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
}

export const toApiKey = (row: ApiKeyRow): ApiKey => ({
  id: row.id,
  uuid: row.uuid,
  user_id: row.user_id,
  name: row.name,
  prefix: row.prefix,
  kind: row.kind,
  limits: row.limits ? (JSON.parse(row.limits) as KeyLimits) : null,
  created_at: row.created_at,
  last_used_at: row.last_used_at,
  expires_at: row.expires_at,
  revoked_at: row.revoked_at,
});

/** The sessions dialect's form, API_1234_5678_...: eight groups of four base32 characters, 160 random bits. */
export function generateKey(): string {
  return `API_${randomBase32().match(/.{4}/g)!.join('_')}`;
}

/**
 * What the database and the key listings show: "API_" and the first group. Those 20 bits are no
 * longer secret, so the 140 bits left keep every key above 128 bits of secret entropy.
 */
export const displayPrefix = (key: string) => key.slice(0, 8);

export const looksLikeApiKey = (credential: string) => credential.startsWith('API_');

// last_used_at is written at most this often per key, to keep writes off the hot path.
const touchIntervalMs = 60_000;

export interface ApiKeysDeps {
  store: ApiKeysStore;
  clock: Clock;
  /** Live (unrevoked, unexpired) keys one user may hold. */
  maxKeysPerUser: number;
  /** Told the ids of keys just revoked (answers running with them are stopped, cached principals dropped). */
  onRevoked?: (keyIds: number[]) => void | Promise<void>;
  /** Told the ids of keys whose limits changed. */
  onChanged?: (keyIds: number[]) => void | Promise<void>;
}

export class ApiKeysService {
  private readonly deps: ApiKeysDeps;

  constructor(deps: ApiKeysDeps) {
    this.deps = deps;
  }

  async create(
    actor: Actor,
    input: {
      name?: string;
      expires_at?: string;
      expires_in_days?: number;
      limits?: KeyLimits;
      kind?: 'secret' | 'public';
      user_id?: number;
    },
  ): Promise<{ key: string; apiKey: ApiKey }> {
    const now = this.deps.clock.now();
    let expiresAt: string | null = null;
    if (input.expires_at !== undefined && input.expires_in_days !== undefined) {
      throw invalid('expires_in_days', 'give expires_at or expires_in_days, not both');
    }
    if (input.expires_at !== undefined) {
      const at = Date.parse(input.expires_at);
      if (Number.isNaN(at)) throw invalid('expires_at', 'must be an ISO-8601 date-time');
      if (at <= now) throw invalid('expires_at', 'must be in the future');
      expiresAt = isoAt(at);
    } else if (input.expires_in_days !== undefined) {
      expiresAt = isoAt(now + input.expires_in_days * 86_400_000);
    }
    const ownerId = input.user_id ?? actor.userId;
    if (ownerId !== actor.userId) assertAdmin(actor, 'create keys for another user');
    if (ownerId !== actor.userId && !(await this.deps.store.userExists(ownerId)))
      throw invalid('user_id', 'is not an existing user');
    // A key created with a key lives no longer than its parent (which also bounds its usage).
    const parent = actor.apiKeyId === undefined ? undefined : await this.deps.store.findById(actor.apiKeyId);
    if (parent?.expires_at && (expiresAt === null || expiresAt > parent.expires_at)) expiresAt = parent.expires_at;
    if ((await this.deps.store.countLive(ownerId, isoAt(now))) >= this.deps.maxKeysPerUser) {
      throw new AppError(
        'conflict',
        `This user already has ${this.deps.maxKeysPerUser} live API keys; revoke one first`,
      );
    }
    const key = generateKey();
    const row = await this.deps.store.insert({
      uuid: newUuid(),
      user_id: ownerId,
      name: input.name ?? null,
      prefix: displayPrefix(key),
      hash: sha256(key),
      kind: input.kind ?? 'secret',
      limits: input.limits ? JSON.stringify(input.limits) : null,
      parent_key_id: parent?.id ?? null,
      created_at: isoAt(now),
      last_used_at: null,
      expires_at: expiresAt,
      revoked_at: null,
    });
    return { key, apiKey: toApiKey(row) };
  }

  /** Oldest first, one page at a time (a user may hold any number of keys). */
  async list(actor: Actor, options: { all?: boolean; limit?: number; offset?: number } = {}): Promise<ApiKey[]> {
    const everyone = isAdmin(actor) && options.all;
    const page = { limit: options.limit ?? 100, offset: options.offset ?? 0 };
    return (await this.deps.store.listByUser(everyone ? undefined : actor.userId, page)).map(toApiKey);
  }

  /** A key by id or UUID; another user's key is not found (admins see all). */
  async getRow(actor: Actor, reference: string): Promise<ApiKeyRow> {
    const parsed = parseReference(reference);
    const row =
      parsed &&
      ('id' in parsed ? await this.deps.store.findById(parsed.id) : await this.deps.store.findByUuid(parsed.uuid));
    if (!row || !mayAccess(actor, row.user_id)) throw notFound('API key');
    return row;
  }

  async get(actor: Actor, reference: string): Promise<ApiKey> {
    return toApiKey(await this.getRow(actor, reference));
  }

  async revoke(actor: Actor, reference: string): Promise<ApiKey> {
    const row = await this.getRow(actor, reference);
    if (row.revoked_at) return toApiKey(row);
    const at = isoAt(this.deps.clock.now());
    const revoked = (await this.deps.store.update(row.id, { revoked_at: at }))!;
    // Keys created with this one go with it, and theirs in turn.
    const ids = [row.id];
    for (let parents = [row.id]; parents.length > 0; ids.push(...parents))
      parents = await this.deps.store.revokeChildren(parents, at);
    await this.deps.onRevoked?.(ids);
    return toApiKey(revoked);
  }

  async setLimits(actor: Actor, reference: string, limits: KeyLimits | null): Promise<ApiKey> {
    assertAdmin(actor, "change a key's limits");
    const row = await this.getRow(actor, reference);
    const updated = (await this.deps.store.update(row.id, { limits: limits ? JSON.stringify(limits) : null }))!;
    await this.deps.onChanged?.([row.id]);
    return toApiKey(updated);
  }

  /** The live key behind a presented secret, or an unauthorized error saying why. */
  async authenticate(secret: string): Promise<ApiKeyRow> {
    const row = await this.deps.store.findByHash(sha256(secret));
    if (!row) throw new AppError('unauthorized', 'Invalid API key');
    const now = this.deps.clock.now();
    if (row.revoked_at) throw new AppError('unauthorized', 'This API key has been revoked');
    // A public key sits in web pages: it only mints client tokens for its agent (the public-agents dialect).
    if (row.kind === 'public')
      throw new AppError('unauthorized', 'A public key can only get client tokens for its agent');
    if (row.expires_at && Date.parse(row.expires_at) <= now)
      throw new AppError('unauthorized', 'This API key has expired');
    await this.touchIfDue(row);
    return row;
  }

  /** Records that a key was used, at most once a minute (also for a key whose principal was cached). */
  async touchIfDue(row: ApiKeyRow): Promise<void> {
    const now = this.deps.clock.now();
    if (row.last_used_at && Date.parse(row.last_used_at) + touchIntervalMs > now) return;
    // Set before the write, so concurrent requests with the key write once.
    row.last_used_at = isoAt(now);
    await this.deps.store.touch(row.id, row.last_used_at);
  }
}
