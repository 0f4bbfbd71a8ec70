import { CompiledQuery, type Compilable, type Kysely, type QueryResult } from 'kysely';
import type { Database } from './schema.ts';

/** Stands for a named value while a statement is built; the compiled statement takes the value there. */
class Slot {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/** The names of the values given, those left undefined aside. */
function given(values: object): string[] {
  const names = Object.keys(values);
  for (const name of names) {
    if ((values as Record<string, unknown>)[name] === undefined)
      return names.filter((n) => (values as Record<string, unknown>)[n] !== undefined);
  }
  return names;
}

type Parameter = { slot: string } | { value: unknown };

interface Built {
  sql: string;
  parameters: Parameter[];
}

/**
 * A statement whose SQL text Kysely builds once per dialect and shape, then runs with new values.
 * On the stored completion path, building and compiling each statement cost about a tenth of the
 * CPU time, more than SQLite took to run most of them.
 *
 * `build` receives its values as placeholders: it must pass each one to Kysely as a value (never
 * read it), and build the same statement for the same shape. The shape is the names of the values
 * given (a row with a column more is another statement), or what the caller names. A value left
 * undefined is not given, as Kysely leaves it out of a statement (`'key' in values` is false while
 * building): run in its slot it would write null. Kysely's plugins do not see these statements
 * (Causerie's databases use none).
 */
export class BuiltOnce<Values extends object, Row> {
  private readonly build: (db: Kysely<Database>, values: Values) => Compilable<Row>;
  /** By dialect (its adapter's class: every SQLite or PostgreSQL database writes the same SQL), then shape. */
  private readonly built = new Map<unknown, Map<string, Built>>();

  constructor(build: (db: Kysely<Database>, values: Values) => Compilable<Row>) {
    this.build = build;
  }

  private builtFor(db: Kysely<Database>, values: Values, shape: string): Built {
    const dialect = db.getExecutor().adapter.constructor;
    let shapes = this.built.get(dialect);
    if (!shapes) {
      shapes = new Map();
      this.built.set(dialect, shapes);
    }
    let built = shapes.get(shape);
    if (!built) {
      const slots = Object.fromEntries(given(values).map((name) => [name, new Slot(name)])) as Values;
      const compiled = this.build(db, slots).compile();
      built = {
        sql: compiled.sql,
        parameters: compiled.parameters.map((value) => (value instanceof Slot ? { slot: value.name } : { value })),
      };
      shapes.set(shape, built);
    }
    return built;
  }

  /** Runs the statement on `db` (a database or a transaction) with these values. */
  execute(db: Kysely<Database>, values: Values, shape?: string): Promise<QueryResult<Row>> {
    const built = this.builtFor(db, values, shape ?? given(values).join());
    const parameters = built.parameters.map((p) =>
      'slot' in p ? (values as Record<string, unknown>)[p.slot] : p.value,
    );
    return db.executeQuery(CompiledQuery.raw(built.sql, parameters) as CompiledQuery<Row>);
  }

  async rows(db: Kysely<Database>, values: Values, shape?: string): Promise<Row[]> {
    return (await this.execute(db, values, shape)).rows;
  }

  async first(db: Kysely<Database>, values: Values, shape?: string): Promise<Row | undefined> {
    return (await this.execute(db, values, shape)).rows[0];
  }
}
