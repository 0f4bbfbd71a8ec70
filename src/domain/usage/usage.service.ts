import { invalid } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { microsPerUnit } from '../limits/limit-definitions.ts';
import { windowAt } from '../limits/windows.ts';
import type { Actor, UsersService } from '../users/users.service.ts';
import type { UsageGroup, UsageStore, UsageTotals } from './usage.store.ts';
import { assertAdmin } from '../users/authorization.ts';

export const usageGroups: UsageGroup[] = ['day', 'model', 'key', 'user'];

/** A report line: what one group (a day, a model, a key, or all of them) used. */
export interface UsageLine {
  day?: string;
  model?: string;
  apiKeyId?: number | null;
  apiKeyName?: string | null;
  /** With the "user" group: whose line it is. */
  userId?: number;
  username?: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** In the currency of the model prices. */
  cost: number;
}

export interface UsageReport {
  from: string;
  to: string;
  groupBy: UsageGroup[];
  /** Whose usage: a user id, or undefined for everyone (admins only). */
  userId: number | undefined;
  rows: UsageLine[];
  total: UsageLine;
  /** Web searches in the period and what they cost (not part of `total`, which counts model calls). */
  searches: { count: number; cost: number };
}

const dateOnly = /^\d{4}-\d{2}-\d{2}$/;
const dayMs = 86_400_000;

/** A bound as a timestamp: a bare date is that day's start, or with `endOfDay` the next day's start. */
function parseBound(field: string, raw: string, endOfDay: boolean): number {
  const at = Date.parse(dateOnly.test(raw) ? `${raw}T00:00:00.000Z` : raw);
  if (Number.isNaN(at)) throw invalid(field, 'must be a date (YYYY-MM-DD) or an ISO-8601 date-time');
  return dateOnly.test(raw) && endOfDay ? at + dayMs : at;
}

/** A store row as a report line: camelCase, the total tokens added, the cost in currency units instead of micros. */
const line = (totals: UsageTotals): UsageLine => ({
  ...(totals.day !== undefined ? { day: totals.day } : {}),
  ...(totals.model !== undefined ? { model: totals.model } : {}),
  ...(totals.api_key_id !== undefined ? { apiKeyId: totals.api_key_id } : {}),
  ...(totals.api_key_name !== undefined ? { apiKeyName: totals.api_key_name } : {}),
  ...(totals.user_id !== undefined ? { userId: totals.user_id } : {}),
  ...(totals.username !== undefined ? { username: totals.username } : {}),
  requests: totals.requests,
  promptTokens: totals.prompt_tokens,
  completionTokens: totals.completion_tokens,
  totalTokens: totals.prompt_tokens + totals.completion_tokens,
  cost: totals.cost_micros / microsPerUnit,
});

export interface UsageServiceDeps {
  store: UsageStore;
  users: UsersService;
  clock: Clock;
  /** The web searches ledger. */
  searches?: {
    totals(filter: { userId?: number; from: string; to: string }): Promise<{ searches: number; cost_micros: number }>;
  };
}

/** Usage reporting over the ledger (GET /api/v1/usage). */
export class UsageService {
  private readonly deps: UsageServiceDeps;

  constructor(deps: UsageServiceDeps) {
    this.deps = deps;
  }

  /**
   * The caller's usage in [from, to) grouped as asked. Defaults: from the start of the UTC month to
   * the end of today. Admins may name another user, or ask for everyone's with all.
   */
  async report(
    actor: Actor,
    query: { from?: string; to?: string; group_by?: string; user?: string; all?: boolean },
  ): Promise<UsageReport> {
    const now = this.deps.clock.now();
    const from = query.from === undefined ? windowAt('month', now).start : parseBound('from', query.from, false);
    const to = query.to === undefined ? windowAt('day', now).end : parseBound('to', query.to, true);
    if (to <= from) throw invalid('to', 'must be after from');
    const groupBy: UsageGroup[] = [];
    for (const part of (query.group_by ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (!usageGroups.includes(part as UsageGroup))
        throw invalid('group_by', `must be a comma-separated list of ${usageGroups.join(', ')}`);
      if (!groupBy.includes(part as UsageGroup)) groupBy.push(part as UsageGroup);
    }
    let userId: number | undefined = actor.userId;
    if (query.all) {
      assertAdmin(actor, "read everyone's usage");
      userId = undefined;
    } else if (query.user !== undefined) {
      // Yourself, or anyone for admins; another user is 404 as on GET /users/:id (their existence is not revealed).
      userId = (await this.deps.users.get(actor, query.user)).id;
    }
    const rows = await this.deps.store.report({ userId, from: isoAt(from), to: isoAt(to) }, groupBy);
    const searches = (await this.deps.searches?.totals({ userId, from: isoAt(from), to: isoAt(to) })) ?? {
      searches: 0,
      cost_micros: 0,
    };
    const sum = { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0 };
    for (const row of rows) {
      sum.requests += row.requests;
      sum.prompt_tokens += row.prompt_tokens;
      sum.completion_tokens += row.completion_tokens;
      sum.cost_micros += row.cost_micros;
    }
    return {
      from: isoAt(from),
      to: isoAt(to),
      groupBy,
      userId,
      rows: groupBy.length === 0 ? [] : rows.map(line),
      total: line(sum),
      searches: { count: searches.searches, cost: searches.cost_micros / microsPerUnit },
    };
  }
}
