import type { ApiKeysStore } from '../api-keys/api-keys.store.ts';
import type { KeyLimits } from '../api-keys/api-keys.service.ts';
import { planLimitsOf } from '../plans/plans.service.ts';
import type { PlansStore } from '../plans/plans.store.ts';
import type { Actor } from '../users/users.service.ts';
import type { PlanLimits } from './limit-definitions.ts';

/** The limits that apply to a caller: their plan's (on the user) and their key's own. */
export interface ApplicableLimits {
  plan: { id: number; name: string } | null;
  user: PlanLimits | null;
  key: KeyLimits | null;
  /** The limits of the keys the caller's key was created with (parent first), where they have any. */
  ancestors: Array<{ keyId: number; limits: KeyLimits }>;
}

export interface ResolverDeps {
  plans: PlansStore;
  apiKeys: ApiKeysStore;
  /** Name of the plan for users who have none (CAUSERIE_DEFAULT_PLAN); unset: no limits. */
  defaultPlan?: string;
  /** How long a node reuses what it read; changes made on another node show within this time. */
  cacheMs?: number;
}

interface KeyRecord {
  limits: KeyLimits | null;
  /** Whether `limits` sets any limit (worked out once per read, not per request). */
  hasLimits: boolean;
  parentId: number | null;
}

interface UserRecord {
  plan: ApplicableLimits['plan'];
  limits: PlanLimits | null;
  hasLimits: boolean;
}

/** A read kept for `cacheMs`: its promise, and its value once it came. */
interface Cached<T> {
  at: number;
  value: Promise<T>;
  settled?: T;
}

const noAncestors: ApplicableLimits['ancestors'] = [];
/** The answer for a caller with no plan and no key limits (shared: nothing may modify it). */
const nothingApplies: ApplicableLimits = Object.freeze({ plan: null, user: null, key: null, ancestors: noAncestors });
Object.freeze(noAncestors);

// Keys created with keys form short chains; a longer one is cut here rather than walked for ever.
const maxChain = 16;

const hasAny = (limits: object | null | undefined) =>
  !!limits && Object.values(limits).some((v) => v !== undefined && v !== null);

/**
 * Reads plans and key limits from SQL. Admissions are on the hot path, so each answer is kept
 * for a second (real time, not the domain clock); changes made through this node clear it at once.
 * The promise is cached, so a burst of first requests costs one query, not one per request.
 */
export class LimitsResolver {
  private readonly deps: ResolverDeps;
  private readonly cacheMs: number;
  private readonly users = new Map<number, Cached<UserRecord>>();
  private readonly keys = new Map<number, Cached<KeyRecord>>();

  constructor(deps: ResolverDeps) {
    this.deps = deps;
    this.cacheMs = deps.cacheMs ?? 1000;
  }

  resolve(actor: Actor): Promise<ApplicableLimits> {
    const known = this.resolveNow(actor);
    return known ? Promise.resolve(known) : this.resolveRead(actor);
  }

  /**
   * What resolve() would answer, when every part of it is already cached and read: the hot path
   * (a client's requests after its first) then takes no promise, and an unlimited caller's no
   * allocation at all. Undefined when something still has to be read.
   */
  resolveNow(actor: Actor): ApplicableLimits | undefined {
    const now = performance.now();
    const userSide = this.fresh(this.users, actor.userId, now);
    if (!userSide) return undefined;
    let key: KeyRecord | null = null;
    if (actor.apiKeyId !== undefined) {
      key = this.fresh(this.keys, actor.apiKeyId, now) ?? null;
      if (!key) return undefined;
    }
    let ancestors: ApplicableLimits['ancestors'] = noAncestors;
    for (let parentId = key?.parentId ?? null, depth = 0; parentId !== null && depth < maxChain; depth++) {
      const parent = this.fresh(this.keys, parentId, now);
      if (!parent) return undefined;
      if (hasAny(parent.limits)) {
        if (ancestors === noAncestors) ancestors = [];
        ancestors.push({ keyId: parentId, limits: parent.limits! });
      }
      parentId = parent.parentId;
    }
    const user = userSide.hasLimits ? userSide.limits : null;
    const keyLimits = key?.hasLimits ? key.limits : null;
    if (!user && !keyLimits && ancestors === noAncestors && !userSide.plan) return nothingApplies;
    return { plan: userSide.plan, user, key: keyLimits, ancestors };
  }

  private async resolveRead(actor: Actor): Promise<ApplicableLimits> {
    const [userSide, key] = await Promise.all([
      this.cached(this.users, actor.userId, () => this.loadUser(actor.userId)),
      actor.apiKeyId === undefined ? null : this.key(actor.apiKeyId),
    ]);
    const ancestors: ApplicableLimits['ancestors'] = [];
    for (let parentId = key?.parentId ?? null, depth = 0; parentId !== null && depth < maxChain; depth++) {
      const parent = await this.key(parentId);
      if (hasAny(parent.limits)) ancestors.push({ keyId: parentId, limits: parent.limits! });
      parentId = parent.parentId;
    }
    return {
      plan: userSide.plan,
      user: userSide.hasLimits ? userSide.limits : null,
      key: key?.hasLimits ? key.limits : null,
      ancestors,
    };
  }

  private key(keyId: number): Promise<KeyRecord> {
    return this.cached(this.keys, keyId, () => this.loadKey(keyId));
  }

  /** Drops everything cached (after a plan or key limit changed on this node). */
  forget(): void {
    this.users.clear();
    this.keys.clear();
  }

  private cached<T>(map: Map<number, Cached<T>>, id: number, load: () => Promise<T>): Promise<T> {
    const now = performance.now();
    const hit = map.get(id);
    if (hit && now - hit.at < this.cacheMs) return hit.value;
    const value = load();
    const entry: Cached<T> = { at: now, value };
    map.set(id, entry);
    value.then(
      (settled) => {
        entry.settled = settled;
      },
      // A failed read must not stick.
      () => map.get(id) === entry && map.delete(id),
    );
    if (map.size > 10_000) map.delete(map.keys().next().value!);
    return value;
  }

  /** A cached value already read and still fresh, if there is one. */
  private fresh<T>(map: Map<number, Cached<T>>, id: number, now: number): T | undefined {
    const hit = map.get(id);
    return hit && now - hit.at < this.cacheMs ? hit.settled : undefined;
  }

  private async loadUser(userId: number): Promise<UserRecord> {
    const row =
      (await this.deps.plans.findByUser(userId)) ??
      (this.deps.defaultPlan ? await this.deps.plans.findByName(this.deps.defaultPlan) : undefined);
    if (!row) return { plan: null, limits: null, hasLimits: false };
    const limits = planLimitsOf(row);
    return { plan: { id: row.id, name: row.name }, limits, hasLimits: hasAny(limits) };
  }

  private async loadKey(keyId: number): Promise<KeyRecord> {
    const row = await this.deps.apiKeys.findById(keyId);
    const limits = row?.limits ? (JSON.parse(row.limits) as KeyLimits) : null;
    return { limits, hasLimits: hasAny(limits), parentId: row?.parent_key_id ?? null };
  }
}
