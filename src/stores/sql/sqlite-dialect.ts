import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteDialect } from 'kysely';

type Parameter = null | number | bigint | string | Uint8Array;

/** node:sqlite takes no booleans or undefined; Kysely may pass both. */
function toParameters(parameters: ReadonlyArray<unknown>): Parameter[] {
  return parameters.map((value) => {
    if (value === undefined) return null;
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value as Parameter;
  });
}

/** Adapts node:sqlite's synchronous statements to the better-sqlite3 shape Kysely's SqliteDialect expects. */
function adapt(statement: StatementSync) {
  return {
    reader: statement.columns().length > 0,
    all: (parameters: ReadonlyArray<unknown>) => statement.all(...toParameters(parameters)),
    run: (parameters: ReadonlyArray<unknown>) => statement.run(...toParameters(parameters)),
    iterate: (parameters: ReadonlyArray<unknown>) => statement.iterate(...toParameters(parameters)),
  };
}

/**
 * Kysely dialect over Node's built-in SQLite: no native module to compile on install.
 * WAL lets readers run beside the single writer; the busy timeout covers a second process.
 */
export function nodeSqliteDialect(path: string): SqliteDialect {
  const database = new DatabaseSync(path);
  database.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;');
  return new SqliteDialect({
    database: {
      close: () => database.close(),
      prepare: (sql: string) => adapt(database.prepare(sql)),
    },
  });
}
