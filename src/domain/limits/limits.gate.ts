import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { LimitCounters, LimitItem } from '../../stores/kv/limit-counters.ts';
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
import type { ApplicableLimits, LimitsResolver } from './limits.resolver.ts';
import type { Admission, LimitRequest, LimitsGate } from './limits.types.ts';
import { secondsUntil, type Window } from './windows.ts';

/** What the gate knows about each item it reserved, to explain a refusal or build headers. */
interface ItemInfo {
  subject: Subject;
  name: LimitName;
  window: Window | null;
  limit: number;
}

const scopeOf = (info: ItemInfo) => `${info.subject.scope}.${info.name}`;

/** X-RateLimit-* for one limit: values in the limit's unit, Reset in seconds from now. */
function rateLimitHeaders(info: ItemInfo, remaining: number, now: number): Record<string, string> {
  return {
    'x-ratelimit-limit': String(shownAmount(info.name, info.limit)),
    'x-ratelimit-remaining': String(shownAmount(info.name, Math.max(0, remaining))),
    'x-ratelimit-reset': String(info.window ? secondsUntil(info.window.end, now) : 1),
    'x-ratelimit-scope': scopeOf(info),
  };
}

export interface GateDeps {
  counters: LimitCounters;
  /** `resolveNow`, when given, answers from what is cached without a promise (the hot path). */
  resolver: Pick<LimitsResolver, 'resolve'> & Partial<Pick<LimitsResolver, 'resolveNow'>>;
  clock: Clock;
  /** Prefix of every counter key (CAUSERIE_REDIS_PREFIX). */
  prefix: string;
  /** Resolves once the counters hold what the ledger recorded (embedded mode rebuild). */
  ready?: Promise<void>;
}

const unlimitedAdmission: Admission = { headers: {}, async settle() {} };
const admittedUnlimited = Promise.resolve(unlimitedAdmission);

/**
 * The limits gate: resolves the limits that apply to the caller (their plan, their
 * key's own), then reserves every one of them in one atomic step of the counters backend:
 * one request, the worst-case tokens and cost, and a stream slot. settle() replaces the
 * reservation with what was actually used and frees the slot, exactly once.
 */
export class CountersGate implements LimitsGate {
  private readonly deps: GateDeps & { ready: Promise<void> };
  /** Set once `ready` resolved: admissions then skip awaiting it. */
  private isReady = false;

  constructor(deps: GateDeps) {
    this.deps = { ...deps, ready: deps.ready ?? Promise.resolve() };
    this.deps.ready.then(
      () => {
        this.isReady = true;
      },
      () => {},
    );
  }

  /** Admits one web search (searches_per_day, and its price against the budget); throws a 429 when refused. */
  admitSearch(actor: LimitRequest['actor'], costMicros: number): Promise<void> {
    return admitSearchWith(this.deps, { actor, costMicros });
  }

  admit(request: LimitRequest): Promise<Admission> {
    const known = this.isReady ? this.deps.resolver.resolveNow?.(request.actor) : undefined;
    // A caller no limit applies to (their plan's and keys' already read): admitted without a promise chain.
    if (known && !known.user && !known.key && known.ancestors.length === 0) return admittedUnlimited;
    return known ? this.reserve(request, known) : this.admitAfterReading(request);
  }

  private async admitAfterReading(request: LimitRequest): Promise<Admission> {
    await this.deps.ready;
    return this.reserve(request, await this.deps.resolver.resolve(request.actor));
  }

  private async reserve(request: LimitRequest, applicable: ApplicableLimits): Promise<Admission> {
    const { userId, apiKeyId } = request.actor;
    const sets: Array<[Subject, PlanLimits | null]> = [[{ scope: 'user', userId }, applicable.user]];
    if (apiKeyId !== undefined) sets.push([{ scope: 'key', userId, keyId: apiKeyId }, applicable.key]);
    // A key created with another key spends that key's allowance too: it cannot escape its limits.
    for (const ancestor of applicable.ancestors)
      sets.push([{ scope: 'key', userId, keyId: ancestor.keyId }, ancestor.limits]);

    const now = this.deps.clock.now();
    const reserveTokens = Math.max(0, Math.ceil(request.reserveTokens));
    const reserveCost = Math.max(0, Math.ceil(request.reserveCostMicros));
    const items: LimitItem[] = [];
    const infos: ItemInfo[] = [];
    for (const [subject, limits] of sets) {
      if (!limits) continue;
      for (const name of limitNames) {
        const value = limits[name];
        if (value === undefined || value === null) continue;
        const metric = limitDefinitions[name].metric;
        if (metric === 'streams' && !request.stream) continue;
        // Searches are admitted on their own (admitSearch), not with the model call.
        if (metric === 'searches') continue;
        const { key, window, ttlMs } = locate(this.deps.prefix, subject, name, now);
        const limit = storedLimit(name, value);
        if (metric === 'requests') items.push({ kind: 'counter', key, limit, amount: 1, ttlMs });
        else if (metric === 'cost') items.push({ kind: 'counter', key, limit, amount: reserveCost, ttlMs });
        else if (metric === 'tokens') items.push({ kind: 'flexible', key, limit, ttlMs });
        else items.push({ kind: 'lease', key, limit, ttlMs });
        infos.push({ subject, name, window, limit });
      }
    }
    if (items.length === 0) return unlimitedAdmission;

    // Without the prompt's size the whole worst case must fit; with it, the gate may grant less.
    const minimum =
      request.promptTokens === undefined ? reserveTokens : Math.min(reserveTokens, Math.ceil(request.promptTokens) + 1);
    const leaseId = randomUUID();
    const result = await this.deps.counters.reserve({
      items,
      now,
      leaseId,
      flexibleWant: reserveTokens,
      flexibleMin: minimum,
    });
    if (!result.ok) {
      // Several limits may be exhausted at once; the client must wait for the last of them.
      const resetOf = (index: number) => infos[index]!.window?.end ?? now + 1000;
      const worst = result.failures.reduce((a, b) => (resetOf(b.index) > resetOf(a.index) ? b : a));
      throw refusal(infos[worst.index]!, worst.current, minimum, now);
    }

    const grant = result.grant;
    let tightest = 0;
    let tightestRemaining = Infinity;
    let tightestShare = Infinity;
    items.forEach((item, i) => {
      const used = result.before[i]! + (item.kind === 'counter' ? item.amount : item.kind === 'flexible' ? grant : 1);
      const remaining = item.limit - used;
      const share = item.limit === 0 ? 0 : remaining / item.limit;
      if (share < tightestShare) [tightest, tightestRemaining, tightestShare] = [i, remaining, share];
    });
    const headers = rateLimitHeaders(infos[tightest]!, tightestRemaining, now);

    let settled = false;
    const counters = this.deps.counters;
    return {
      headers,
      maxCompletionTokens:
        grant < reserveTokens && request.promptTokens !== undefined
          ? Math.max(1, grant - Math.ceil(request.promptTokens))
          : undefined,
      async settle(actual) {
        if (settled) return;
        settled = true;
        const tokens = Math.max(0, Math.round(actual.tokens));
        const cost = Math.max(0, Math.round(actual.costMicros));
        const adjust: Array<{ key: string; delta: number }> = [];
        const leases: string[] = [];
        items.forEach((item, i) => {
          const metric = limitDefinitions[infos[i]!.name].metric;
          if (item.kind === 'lease') leases.push(item.key);
          else if (metric === 'tokens' && tokens !== grant) adjust.push({ key: item.key, delta: tokens - grant });
          else if (metric === 'cost' && cost !== reserveCost) adjust.push({ key: item.key, delta: cost - reserveCost });
        });
        await counters.settle({ adjust, leases, leaseId });
      },
    };
  }
}

/**
 * Admits one web search: one unit of searches_per_day for the user and their key, and the
 * search's price against the monthly budget. Nothing to settle: a search is counted when it is
 * admitted, whatever it finds.
 */
export async function admitSearchWith(
  deps: GateDeps & { ready: Promise<void> },
  request: { actor: LimitRequest['actor']; costMicros: number },
): Promise<void> {
  await deps.ready;
  const applicable = await deps.resolver.resolve(request.actor);
  const { userId, apiKeyId } = request.actor;
  const sets: Array<[Subject, PlanLimits | null]> = [[{ scope: 'user', userId }, applicable.user]];
  if (apiKeyId !== undefined) sets.push([{ scope: 'key', userId, keyId: apiKeyId }, applicable.key]);
  const now = deps.clock.now();
  const items: LimitItem[] = [];
  const infos: ItemInfo[] = [];
  for (const [subject, limits] of sets) {
    for (const name of ['searches_per_day', 'budget_per_month'] as const) {
      const value = limits?.[name];
      if (value === undefined || value === null) continue;
      const amount = name === 'budget_per_month' ? Math.max(0, Math.round(request.costMicros)) : 1;
      if (amount === 0) continue;
      const { key, window, ttlMs } = locate(deps.prefix, subject, name, now);
      const limit = storedLimit(name, value);
      items.push({ kind: 'counter', key, limit, amount, ttlMs });
      infos.push({ subject, name, window, limit });
    }
  }
  if (items.length === 0) return;
  const result = await deps.counters.reserve({ items, now, leaseId: randomUUID(), flexibleWant: 0, flexibleMin: 0 });
  if (!result.ok) {
    const resetOf = (index: number) => infos[index]!.window?.end ?? now + 1000;
    const worst = result.failures.reduce((a, b) => (resetOf(b.index) > resetOf(a.index) ? b : a));
    throw refusal(infos[worst.index]!, worst.current, 0, now);
  }
}

/** The 429 for the limit that did not fit, saying which one, how much is left and when it resets. */
function refusal(info: ItemInfo, current: number, neededTokens: number, now: number): AppError {
  const remaining = info.limit - current;
  const headers = rateLimitHeaders(info, remaining, now);
  const retryAfter = info.window ? secondsUntil(info.window.end, now) : 1;
  headers['retry-after'] = String(retryAfter);
  const scope = scopeOf(info);
  const { unit, metric } = limitDefinitions[info.name];
  const limitText = `${shownAmount(info.name, info.limit)} ${unit}`;
  let message: string;
  if (metric === 'streams') {
    message = `Too many streams at once: ${scope} allows ${limitText}; retry when one ends`;
  } else if (metric === 'tokens' && neededTokens > info.limit) {
    message = `This request needs ${neededTokens} tokens, more than ${scope} allows (${limitText}); lower max_tokens or shorten the prompt`;
  } else if (metric === 'tokens') {
    message = `Token quota ${scope} (${limitText}) has ${Math.max(0, remaining)} left, less than this request needs (${neededTokens}); lower max_tokens or retry in ${retryAfter} s`;
  } else {
    message = `Limit ${scope} reached (${limitText}); retry in ${retryAfter} s`;
  }
  return new AppError('rate_limited', message, { headers });
}
