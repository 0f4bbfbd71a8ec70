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
  parentId: number | null;
}

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
  private readonly users = new Map<
    number,
    { at: number; value: Promise<{ plan: ApplicableLimits['plan']; limits: PlanLimits | null }> }
  >();
  private readonly keys = new Map<number, { at: number; value: Promise<KeyRecord> }>();

  constructor(deps: ResolverDeps) {
    this.deps = deps;
    this.cacheMs = deps.cacheMs ?? 1000;
  }

  async resolve(actor: Actor): Promise<ApplicableLimits> {
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
      user: hasAny(userSide.limits) ? userSide.limits : null,
      key: hasAny(key?.limits) ? key!.limits : null,
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

  private cached<T>(
    map: Map<number, { at: number; value: Promise<T> }>,
    id: number,
    load: () => Promise<T>,
  ): Promise<T> {
    const now = performance.now();
    const hit = map.get(id);
    if (hit && now - hit.at < this.cacheMs) return hit.value;
    const value = load();
    map.set(id, { at: now, value });
    // A failed read must not stick.
    value.catch(() => map.get(id)?.value === value && map.delete(id));
    if (map.size > 10_000) map.delete(map.keys().next().value!);
    return value;
  }

  private async loadUser(userId: number) {
    const row =
      (await this.deps.plans.findByUser(userId)) ??
      (this.deps.defaultPlan ? await this.deps.plans.findByName(this.deps.defaultPlan) : undefined);
    return row ? { plan: { id: row.id, name: row.name }, limits: planLimitsOf(row) } : { plan: null, limits: null };
  }

  private async loadKey(keyId: number): Promise<KeyRecord> {
    const row = await this.deps.apiKeys.findById(keyId);
    return { limits: row?.limits ? (JSON.parse(row.limits) as KeyLimits) : null, parentId: row?.parent_key_id ?? null };
  }
}
