import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type { AgentsTable, Database } from '../../stores/sql/schema.ts';

export type AgentRow = Selectable<AgentsTable>;

/** Agents: one method per query, no rules. */
export class AgentsStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  insert(row: Insertable<AgentsTable>): Promise<AgentRow> {
    return this.db.insertInto('agents').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findById(id: number): Promise<AgentRow | undefined> {
    return this.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByUuid(uuid: string): Promise<AgentRow | undefined> {
    return this.db.selectFrom('agents').selectAll().where('uuid', '=', uuid).executeTakeFirst();
  }

  /** One page of agents, oldest first; every user's when userId is undefined (admins). */
  list(userId: number | undefined, page: { limit: number; offset: number }): Promise<AgentRow[]> {
    let query = this.db.selectFrom('agents').selectAll();
    if (userId !== undefined) query = query.where('user_id', '=', userId);
    return query.orderBy('id').limit(page.limit).offset(page.offset).execute();
  }

  async count(userId: number | undefined): Promise<number> {
    let query = this.db.selectFrom('agents').select((eb) => eb.fn.countAll<number>().as('count'));
    if (userId !== undefined) query = query.where('user_id', '=', userId);
    return Number((await query.executeTakeFirstOrThrow()).count);
  }

  async update(id: number, fields: Updateable<AgentsTable>): Promise<AgentRow | undefined> {
    return this.db.updateTable('agents').set(fields).where('id', '=', id).returningAll().executeTakeFirst();
  }

  async delete(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('agents').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
