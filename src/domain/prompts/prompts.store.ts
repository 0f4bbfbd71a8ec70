import { sql, type Insertable, type Kysely, type Selectable, type Updateable } from 'kysely';
import type { Database, PromptsTable } from '../../stores/sql/schema.ts';

export type PromptRow = Selectable<PromptsTable>;

/** What a prompt listing filters on. */
export interface PromptFilter {
  userId: number;
  includeTemplates: boolean;
  scenario?: string;
  /** Matched case-insensitively inside title, content and description. */
  search?: string;
}

/** `%` and `_` typed by a user are literal characters, not LIKE wildcards. */
const likePattern = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Prompt templates: one method per query, no rules. */
export class PromptsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  insert(row: Insertable<PromptsTable>): Promise<PromptRow> {
    return this.db.insertInto('prompts').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findById(id: number): Promise<PromptRow | undefined> {
    return this.db.selectFrom('prompts').selectAll().where('id', '=', id).executeTakeFirst();
  }

  private filtered(filter: PromptFilter) {
    let query = this.db
      .selectFrom('prompts')
      .where((eb) =>
        filter.includeTemplates
          ? eb.or([eb('user_id', '=', filter.userId), eb('is_template', '=', 1)])
          : eb('user_id', '=', filter.userId),
      );
    if (filter.scenario !== undefined) query = query.where('scenario', '=', filter.scenario);
    if (filter.search !== undefined && filter.search !== '') {
      const pattern = likePattern(filter.search);
      query = query.where((eb) =>
        eb.or(
          (['title', 'content', 'description'] as const).map((column) =>
            eb(sql`lower(${sql.ref(column)})`, 'like', sql`${pattern} escape '\\'`),
          ),
        ),
      );
    }
    return query;
  }

  /** Oldest first (the built-in templates, then the caller's prompts as created); the id orders ties. */
  list(filter: PromptFilter, page: { limit: number; offset: number }): Promise<PromptRow[]> {
    return this.filtered(filter).selectAll().orderBy('id').limit(page.limit).offset(page.offset).execute();
  }

  async count(filter: PromptFilter): Promise<number> {
    const row = await this.filtered(filter)
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  update(id: number, changes: Updateable<PromptsTable>): Promise<PromptRow | undefined> {
    return this.db.updateTable('prompts').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('prompts').where('id', '=', id).execute();
  }

  /** One use more, in one statement, so concurrent uses never lose a count. */
  async incrementUsage(id: number): Promise<void> {
    await this.db
      .updateTable('prompts')
      .set((eb) => ({ usage_count: eb('usage_count', '+', 1) }))
      .where('id', '=', id)
      .execute();
  }
}
