import type { Static } from 'typebox';
import { Type } from '../../lib/type.ts';
import type { LimitsOverview } from '../../domain/limits/limits.service.ts';
import type { UsageLine, UsageReport } from '../../domain/usage/usage.service.ts';
import { ApiKeyBody } from './keys.ts';
import { Nullable } from './common.ts';

const limit = (description: string) =>
  Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description }));

/** A plan's limits; each is optional (absent: not limited). */
export const PlanLimitsBody = Type.Object(
  {
    requests_per_minute: limit('Requests per minute'),
    requests_per_day: limit('Requests per UTC day'),
    tokens_per_day: limit('Prompt + completion tokens per UTC day'),
    tokens_per_month: limit('Prompt + completion tokens per UTC month'),
    budget_per_month: Type.Optional(
      Type.Number({ minimum: 0, description: 'Spending budget per UTC month, in the currency of the model prices' }),
    ),
    concurrent_streams: limit('Streams open at once'),
    searches_per_day: limit('Web searches per UTC day'),
  },
  { additionalProperties: false },
);

export const PlanBody = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  limits: PlanLimitsBody,
  users: Type.Integer({ description: 'Users on this plan' }),
  created_at: Type.String({ format: 'date-time' }),
  updated_at: Type.String({ format: 'date-time' }),
});

export const CreatePlanBody = Type.Object(
  { name: Type.String({ minLength: 1, maxLength: 64 }), limits: Type.Optional(PlanLimitsBody) },
  { additionalProperties: false },
);

export const UpdatePlanBody = Type.Object(
  { name: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })), limits: Type.Optional(PlanLimitsBody) },
  { additionalProperties: false },
);

export const AssignPlanBody = Type.Object(
  {
    plan: Type.Union(
      [
        Type.String({ minLength: 1, maxLength: 200 }),
        Type.Integer({ minimum: 1, maximum: 2_147_483_647 }),
        Type.Null(),
      ],
      { description: 'Plan id or name; null removes the plan' },
    ),
  },
  { additionalProperties: false },
);

const remaining = (description: string) => Type.Optional(Type.Number({ description }));

export const ApiKeyWithRemainingBody = Type.Intersect([
  ApiKeyBody,
  Type.Object({
    limits_remaining: Type.Union(
      [
        Type.Object({
          requests_per_minute: remaining('Requests left this minute'),
          requests_per_day: remaining('Requests left today (UTC)'),
          tokens_per_day: remaining('Tokens left today (UTC)'),
          tokens_per_month: remaining('Tokens left this month (UTC)'),
          concurrent_streams: remaining('Streams that can still open'),
          searches_per_day: remaining('Web searches left today (UTC)'),
        }),
        Type.Null(),
      ],
      { description: "What is left of each of the key's own limits (null: the key has none)" },
    ),
  }),
]);

export const LimitStatusBody = Type.Object({
  scope: Type.String({
    description: "user.<limit> (from the plan) or key.<limit> (the key's own), as in X-RateLimit-Scope",
  }),
  limit: Type.Number(),
  used: Type.Number({ description: 'Includes the reservations of calls still running' }),
  remaining: Type.Number(),
  resets_at: Nullable(Type.String({ format: 'date-time' })),
});

export const LimitsOverviewBody = Type.Object({
  user_id: Type.Integer(),
  plan: Nullable(Type.Object({ id: Type.Integer(), name: Type.String() })),
  api_key_id: Nullable(Type.Integer({ description: 'The key the request came with; its own limits are listed too' })),
  limits: Type.Array(LimitStatusBody),
});

/** GET /api/v1/limits's body: the overview in the API's snake_case. */
export const toLimitsOverviewBody = (overview: LimitsOverview): Static<typeof LimitsOverviewBody> => ({
  user_id: overview.userId,
  plan: overview.plan,
  api_key_id: overview.apiKeyId ?? null,
  limits: overview.limits.map(({ resetsAt, ...status }) => ({ ...status, resets_at: resetsAt ?? null })),
});

export const UsageQuery = Type.Object({
  from: Type.Optional(
    Type.String({
      maxLength: 40,
      description: 'Start (inclusive): YYYY-MM-DD or ISO date-time; default: start of the UTC month',
    }),
  ),
  to: Type.Optional(
    Type.String({
      maxLength: 40,
      description: 'End (exclusive; a bare date includes that day); default: end of today (UTC)',
    }),
  ),
  group_by: Type.Optional(Type.String({ maxLength: 40, description: 'Comma-separated: day, model, key, user' })),
  user: Type.Optional(Type.String({ maxLength: 64, description: 'Admins: whose usage (username, id or UUID)' })),
  all: Type.Optional(Type.Boolean({ description: "Admins: everyone's usage" })),
});

const UsageLineBody = Type.Object({
  day: Type.Optional(Type.String()),
  model: Type.Optional(Type.String()),
  api_key_id: Type.Optional(Nullable(Type.Integer())),
  api_key_name: Type.Optional(Nullable(Type.String())),
  user_id: Type.Optional(Type.Integer({ description: 'With group_by=user' })),
  username: Type.Optional(Type.String({ description: 'With group_by=user' })),
  requests: Type.Integer(),
  prompt_tokens: Type.Integer(),
  completion_tokens: Type.Integer(),
  total_tokens: Type.Integer(),
  cost: Type.Number({ description: 'In the currency of the model prices' }),
});

const toUsageLineBody = (line: UsageLine): Static<typeof UsageLineBody> => ({
  ...(line.day !== undefined ? { day: line.day } : {}),
  ...(line.model !== undefined ? { model: line.model } : {}),
  ...(line.apiKeyId !== undefined ? { api_key_id: line.apiKeyId } : {}),
  ...(line.apiKeyName !== undefined ? { api_key_name: line.apiKeyName } : {}),
  ...(line.userId !== undefined ? { user_id: line.userId } : {}),
  ...(line.username !== undefined ? { username: line.username } : {}),
  requests: line.requests,
  prompt_tokens: line.promptTokens,
  completion_tokens: line.completionTokens,
  total_tokens: line.totalTokens,
  cost: line.cost,
});

/** GET /api/v1/usage's body: the report in the API's snake_case. */
export const toUsageReportBody = (report: UsageReport): Static<typeof UsageReportBody> => ({
  from: report.from,
  to: report.to,
  group_by: report.groupBy,
  user_id: report.userId ?? null,
  rows: report.rows.map(toUsageLineBody),
  total: toUsageLineBody(report.total),
  searches: report.searches,
});

export const UsageReportBody = Type.Object({
  from: Type.String({ format: 'date-time' }),
  to: Type.String({ format: 'date-time' }),
  group_by: Type.Array(Type.String()),
  user_id: Nullable(Type.Integer()),
  rows: Type.Array(UsageLineBody),
  total: UsageLineBody,
  searches: Type.Object(
    {
      count: Type.Integer(),
      cost: Type.Number({ description: 'In the currency of the model prices (CAUSERIE_SEARCH_PRICE)' }),
    },
    { description: 'Web searches in the period (not counted in total, which is model calls)' },
  ),
});
