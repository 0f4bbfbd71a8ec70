import { isoAt, type Clock } from '../clock.ts';
import type { ApiKey, ApiKeysService, KeyLimits } from '../api-keys/api-keys.service.ts';
import type { Actor, UsersService } from '../users/users.service.ts';
import type { LimitCounters } from '../../stores/kv/limit-counters.ts';
import {
  limitDefinitions,
  limitNames,
  locate,
  shownAmount,
  storedLimit,
  type LimitName,
  type PlanLimits,
  type Subject,
} from './limit-definitions.ts';
import type { LimitsResolver } from './limits.resolver.ts';

/** One limit as the caller sees it now. `used` includes reservations of calls still running. */
export interface LimitStatus {
  /** Which counter: "user.requests_per_day" (from the user's plan) or "key.tokens_per_day". */
  scope: string;
  limit: number;
  used: number;
  remaining: number;
  /** When the window restarts; undefined for concurrent streams. */
  resetsAt: string | undefined;
}

export interface LimitsOverview {
  userId: number;
  plan: { id: number; name: string } | null;
  /** The key the request came with, whose own limits are listed too. */
  apiKeyId: number | undefined;
  limits: LimitStatus[];
}

export type ApiKeyWithRemaining = ApiKey & { limits_remaining: Partial<Record<LimitName, number>> | null };

export interface LimitsServiceDeps {
  counters: LimitCounters;
  resolver: LimitsResolver;
  apiKeys: ApiKeysService;
  users: UsersService;
  clock: Clock;
  prefix: string;
  ready: Promise<void>;
}

/** Reading what is left of each limit, and changing a key's limits. */
export class LimitsService {
  private readonly deps: LimitsServiceDeps;

  constructor(deps: LimitsServiceDeps) {
    this.deps = deps;
  }

  /** Whether the limits store (in process, or Redis) answers: for /readyz. */
  ping(): Promise<void> {
    return this.deps.counters.ping(1000);
  }

  /** The caller's limits (their plan's, and their key's if they came with one); admins may name a user. */
  async overview(actor: Actor, options: { user?: string } = {}): Promise<LimitsOverview> {
    let subjectActor: Actor = actor;
    if (options.user !== undefined) {
      // Yourself, or anyone for admins; another user is 404 as on GET /users/:id (their existence is not revealed).
      const user = await this.deps.users.get(actor, options.user);
      if (user.id !== actor.userId) subjectActor = { userId: user.id, role: user.role };
    }
    const applicable = await this.deps.resolver.resolve(subjectActor);
    const { userId, apiKeyId } = subjectActor;
    const limits = [
      ...(await this.statusOf({ scope: 'user', userId }, applicable.user)),
      ...(apiKeyId === undefined ? [] : await this.statusOf({ scope: 'key', userId, keyId: apiKeyId }, applicable.key)),
    ];
    return { userId, plan: applicable.plan, apiKeyId, limits };
  }

  /** A key with what is left of each of its own limits (GET /api/v1/keys/{id}). */
  async keyWithRemaining(actor: Actor, reference: string): Promise<ApiKeyWithRemaining> {
    const key = await this.deps.apiKeys.get(actor, reference);
    if (!key.limits) return { ...key, limits_remaining: null };
    const statuses = await this.statusOf({ scope: 'key', userId: key.user_id, keyId: key.id }, key.limits);
    const remaining: Partial<Record<LimitName, number>> = {};
    for (const status of statuses) remaining[status.scope.slice('key.'.length) as LimitName] = status.remaining;
    return { ...key, limits_remaining: remaining };
  }

  /** Replaces a key's own limits (an empty object removes them); admins only. */
  async setKeyLimits(actor: Actor, reference: string, limits: KeyLimits): Promise<ApiKeyWithRemaining> {
    const clean = Object.fromEntries(
      Object.entries(limits).filter(([, v]) => v !== undefined && v !== null),
    ) as KeyLimits;
    await this.deps.apiKeys.setLimits(actor, reference, Object.keys(clean).length ? clean : null);
    this.deps.resolver.forget();
    return this.keyWithRemaining(actor, reference);
  }

  private async statusOf(subject: Subject, limits: PlanLimits | null): Promise<LimitStatus[]> {
    if (!limits) return [];
    await this.deps.ready;
    const now = this.deps.clock.now();
    const names = limitNames.filter((name) => limits[name] !== undefined && limits[name] !== null);
    const located = names.map((name) => ({ name, ...locate(this.deps.prefix, subject, name, now) }));
    const values = await this.deps.counters.read(
      located.map(({ name, key }) => ({
        kind: limitDefinitions[name].metric === 'streams' ? 'lease' : 'counter',
        key,
      })),
      now,
    );
    return located.map(({ name, window }, i) => {
      const limit = storedLimit(name, limits[name]!);
      const used = values[i]!;
      return {
        scope: `${subject.scope}.${name}`,
        limit: shownAmount(name, limit),
        used: shownAmount(name, used),
        remaining: shownAmount(name, Math.max(0, limit - used)),
        resetsAt: window ? isoAt(window.end) : undefined,
      };
    });
  }
}
