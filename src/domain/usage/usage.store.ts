import { CompiledQuery, sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { Database, UsageRecordsTable } from '../../stores/sql/schema.ts';

export type UsageRow = Selectable<UsageRecordsTable>;
export type UsageGroup = 'day' | 'model' | 'key' | 'user';

/** One line of a usage report: the group's values and its sums. */
export interface UsageTotals {
  day?: string;
  model?: string;
  api_key_id?: number | null;
  api_key_name?: string | null;
  user_id?: number;
  username?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

// Rows per group-committed statement (well under SQLite's and PostgreSQL's parameter limits).
const maxBatch = 100;

/** The columns a usage row sets, in the order of the insert's parameters. */
const columns = [
  'user_id',
  'api_key_id',
  'conversation_id',
  'model',
  'provider',
  'prompt_tokens',
  'completion_tokens',
  'cost_micros',
  'status',
  'created_at',
] as const satisfies ReadonlyArray<keyof Insertable<UsageRecordsTable>>;

/** A column added to the table but not to this list fails to type-check (it would be left out of every row). */
// biome-ignore lint/correctness/noUnusedVariables: read by the type checker only
type UsageColumnsUnlisted = NeverOrFail<Exclude<keyof UsageRecordsTable, 'id' | (typeof columns)[number]>>;
type NeverOrFail<T extends never> = T;

/** The usage ledger: one row per model call. */
export class UsageStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  /**
   * Appends one row. Rows arriving in the same event-loop turn are written together in one
   * statement (a group commit: one transaction instead of one per call); each caller still
   * resolves only once its row is stored. If the batch fails, its rows are retried one by one so
   * that one bad row (its user deleted meanwhile) fails only its own call.
   */
  insert(row: Insertable<UsageRecordsTable>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ row, resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private pending: Array<{
    row: Insertable<UsageRecordsTable>;
    resolve: () => void;
    reject: (error: unknown) => void;
  }> = [];

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0, maxBatch);
    if (this.pending.length) setImmediate(() => void this.flush());
    try {
      await this.db.executeQuery(this.insertOf(batch.map((entry) => entry.row)));
      for (const entry of batch) entry.resolve();
    } catch (error) {
      if (batch.length === 1) return batch[0]!.reject(error);
      for (const entry of batch) {
        await this.db.insertInto('usage_records').values(entry.row).execute().then(entry.resolve, entry.reject);
      }
    }
  }

  /** The SQL of an insert of n rows, built once per n (Kysely's query tree and compiler cost ~1 % of a JSON completion). */
  private readonly insertSql: string[] = [];

  private insertOf(rows: Array<Insertable<UsageRecordsTable>>): CompiledQuery {
    let text = this.insertSql[rows.length];
    if (text === undefined) {
      const placeholders = rows.map(() => Object.fromEntries(columns.map((column) => [column, null])) as never);
      text = this.db.insertInto('usage_records').values(placeholders).compile().sql;
      this.insertSql[rows.length] = text;
    }
    const parameters: unknown[] = [];
    for (const row of rows) for (const column of columns) parameters.push(row[column] ?? null);
    return CompiledQuery.raw(text, parameters);
  }

  /** Calls, tokens and cost since `since` (ISO), per user and key: what quotas count. */
  async totalsSince(since: string) {
    const rows = await this.db
      .selectFrom('usage_records')
      .select((eb) => [
        'user_id',
        'api_key_id',
        eb.fn.countAll<number>().as('requests'),
        eb.fn.sum<number>(sql`prompt_tokens + completion_tokens`).as('tokens'),
        eb.fn.sum<number>('cost_micros').as('cost_micros'),
      ])
      .where('created_at', '>=', since)
      .groupBy(['user_id', 'api_key_id'])
      .execute();
    return rows.map((row) => ({
      user_id: row.user_id,
      api_key_id: row.api_key_id,
      requests: Number(row.requests),
      tokens: Number(row.tokens ?? 0),
      cost_micros: Number(row.cost_micros ?? 0),
    }));
  }

  /** Sums over [from, to), for one user or everyone, grouped by any of day, model, key and user. */
  async report(filter: { userId?: number; from: string; to: string }, groupBy: UsageGroup[]): Promise<UsageTotals[]> {
    const day = sql<string>`substr(usage_records.created_at, 1, 10)`;
    let query = this.db
      .selectFrom('usage_records')
      .leftJoin('api_keys', 'api_keys.id', 'usage_records.api_key_id')
      .select((eb) => [
        eb.fn.countAll<number>().as('requests'),
        eb.fn.sum<number>('usage_records.prompt_tokens').as('prompt_tokens'),
        eb.fn.sum<number>('usage_records.completion_tokens').as('completion_tokens'),
        eb.fn.sum<number>('usage_records.cost_micros').as('cost_micros'),
      ])
      .where('usage_records.created_at', '>=', filter.from)
      .where('usage_records.created_at', '<', filter.to);
    if (filter.userId !== undefined) query = query.where('usage_records.user_id', '=', filter.userId);
    if (groupBy.includes('day')) query = query.select(day.as('day')).groupBy(day).orderBy(day);
    if (groupBy.includes('model'))
      query = query.select('usage_records.model').groupBy('usage_records.model').orderBy('usage_records.model');
    if (groupBy.includes('key')) {
      query = query
        .select(['usage_records.api_key_id', 'api_keys.name as api_key_name'])
        .groupBy(['usage_records.api_key_id', 'api_keys.name'])
        // Calls without a key first, on both dialects (they sort NULL differently).
        .orderBy(sql`coalesce(usage_records.api_key_id, 0)`);
    }
    if (groupBy.includes('user')) {
      query = query
        .innerJoin('users', 'users.id', 'usage_records.user_id')
        .select(['usage_records.user_id', 'users.username'])
        .groupBy(['usage_records.user_id', 'users.username'])
        .orderBy('usage_records.user_id');
    }
    const rows = (await query.execute()) as Array<Record<string, unknown>>;
    return rows.map((row) => ({
      ...(groupBy.includes('day') ? { day: String(row.day) } : {}),
      ...(groupBy.includes('model') ? { model: String(row.model) } : {}),
      ...(groupBy.includes('key')
        ? {
            api_key_id: (row.api_key_id as number | null) ?? null,
            api_key_name: (row.api_key_name as string | null) ?? null,
          }
        : {}),
      ...(groupBy.includes('user') ? { user_id: Number(row.user_id), username: String(row.username) } : {}),
      requests: Number(row.requests),
      prompt_tokens: Number(row.prompt_tokens ?? 0),
      completion_tokens: Number(row.completion_tokens ?? 0),
      cost_micros: Number(row.cost_micros ?? 0),
    }));
  }
}
