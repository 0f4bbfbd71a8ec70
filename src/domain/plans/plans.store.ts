import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import { BuiltOnce } from '../../stores/sql/built-once.ts';
import type { Database, PlansTable } from '../../stores/sql/schema.ts';

export type PlanRow = Selectable<PlansTable>;

const planOfUser = new BuiltOnce((db, v: { userId: number }) =>
  db
    .selectFrom('users')
    .innerJoin('plans', 'plans.id', 'users.plan_id')
    .selectAll('plans')
    .where('users.id', '=', v.userId),
);

export class PlansStore {
  private readonly db: Kysely<Database>;

  constructor(db: Kysely<Database>) {
    this.db = db;
  }

  insert(row: Insertable<PlansTable>): Promise<PlanRow> {
    return this.db.insertInto('plans').values(row).returningAll().executeTakeFirstOrThrow();
  }

  findById(id: number): Promise<PlanRow | undefined> {
    return this.db.selectFrom('plans').selectAll().where('id', '=', id).executeTakeFirst();
  }

  findByName(name: string): Promise<PlanRow | undefined> {
    return this.db.selectFrom('plans').selectAll().where('name', '=', name).executeTakeFirst();
  }

  list(): Promise<PlanRow[]> {
    return this.db.selectFrom('plans').selectAll().orderBy('id').execute();
  }

  update(id: number, changes: Updateable<PlansTable>): Promise<PlanRow | undefined> {
    return this.db.updateTable('plans').set(changes).where('id', '=', id).returningAll().executeTakeFirst();
  }

  /** Users on the plan fall back to no plan (SQLite's foreign keys may be off in other tools). */
  async delete(id: number): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('users').set({ plan_id: null }).where('plan_id', '=', id).execute();
      await trx.deleteFrom('plans').where('id', '=', id).execute();
    });
  }

  async countUsers(id: number): Promise<number> {
    const row = await this.db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number>().as('count'))
      .where('plan_id', '=', id)
      .executeTakeFirstOrThrow();
    return Number(row.count);
  }

  /** The plan a user is on, if any, in one query. */
  /** On the limits resolver's path: built once (decision 019). */
  findByUser(userId: number): Promise<PlanRow | undefined> {
    return planOfUser.first(this.db, { userId });
  }
}
