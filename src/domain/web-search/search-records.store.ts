import type { Kysely } from 'kysely';
import type { Database } from '../../stores/sql/schema.ts';
import type { SearchUsage, SearchUsageRecorder } from './web-search.types.ts';

/** The ledger of web searches: one row per search. */
export class SearchRecordsStore implements SearchUsageRecorder {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  async record(row: SearchUsage): Promise<void> {
    await this.db.insertInto('search_records').values(row).execute();
  }

  /** Searches and their cost since `since` (ISO), per user and key: what searches_per_day and budgets count. */
  async totalsSince(since: string) {
    const rows = await this.db
      .selectFrom('search_records')
      .select((eb) => [
        'user_id',
        'api_key_id',
        eb.fn.countAll<number>().as('searches'),
        eb.fn.sum<number>('cost_micros').as('cost_micros'),
      ])
      .where('created_at', '>=', since)
      .groupBy(['user_id', 'api_key_id'])
      .execute();
    return rows.map((row) => ({
      user_id: row.user_id,
      api_key_id: row.api_key_id,
      searches: Number(row.searches),
      cost_micros: Number(row.cost_micros ?? 0),
    }));
  }

  /** Searches and their cost over [from, to), for one user or everyone (usage reports). */
  async totals(filter: { userId?: number; from: string; to: string }) {
    let query = this.db
      .selectFrom('search_records')
      .select((eb) => [eb.fn.countAll<number>().as('searches'), eb.fn.sum<number>('cost_micros').as('cost_micros')])
      .where('created_at', '>=', filter.from)
      .where('created_at', '<', filter.to);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    const row = await query.executeTakeFirst();
    return { searches: Number(row?.searches ?? 0), cost_micros: Number(row?.cost_micros ?? 0) };
  }
}
