import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { SqliteDialect } from 'kysely';
import { getLoadablePath } from 'sqlite-vec';

type Parameter = null | number | bigint | string | Uint8Array;

/** node:sqlite takes no booleans or undefined; Kysely may pass both. */
function toParameters(parameters: ReadonlyArray<unknown>): Parameter[] {
  return parameters.map((value) => {
    if (value === undefined) return null;
    if (typeof value === 'boolean') return value ? 1 : 0;
    return value as Parameter;
  });
}

/**
 * Adapts node:sqlite's synchronous statements to the better-sqlite3 shape Kysely's SqliteDialect
 * expects. all() and run() finish before returning, so one prepared statement can serve every
 * caller; iterate() gets its own, since two iterations of one statement would interleave.
 */
function adapt(statement: StatementSync, prepareAgain: () => StatementSync) {
  return {
    reader: statement.columns().length > 0,
    all: (parameters: ReadonlyArray<unknown>) => statement.all(...toParameters(parameters)),
    run: (parameters: ReadonlyArray<unknown>) => statement.run(...toParameters(parameters)),
    iterate: (parameters: ReadonlyArray<unknown>) => prepareAgain().iterate(...toParameters(parameters)),
  };
}

/**
 * Loads sqlite-vec (vector search, used by the search index) if its binary exists for this
 * platform; without it, search answers in keyword mode only. Loading is then switched off, so no
 * SQL statement can load another extension.
 */
function loadVectorExtension(database: DatabaseSync): void {
  try {
    database.loadExtension(getLoadablePath());
  } catch {
    // No binary for this platform: `SELECT vec_version()` fails and search says semantic is unavailable.
  } finally {
    database.enableLoadExtension(false);
  }
}

/** Distinct SQL texts kept prepared; the same few queries serve every request, so this rarely fills. */
const statementCacheSize = 500;

/**
 * Kysely dialect over Node's built-in SQLite: no native module to compile on install.
 * WAL lets readers run beside the single writer; the busy timeout covers a second process.
 */
export function nodeSqliteDialect(path: string): SqliteDialect {
  const database = new DatabaseSync(path, { allowExtension: true });
  loadVectorExtension(database);
  database.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000;',
  );
  // Preparing costs more than running the hot queries (key lookup, usage insert): prepare each once.
  const prepared = new Map<string, ReturnType<typeof adapt>>();
  return new SqliteDialect({
    database: {
      close: () => database.close(),
      prepare: (sql: string) => {
        let statement = prepared.get(sql);
        if (!statement) {
          if (prepared.size >= statementCacheSize) prepared.clear();
          statement = adapt(database.prepare(sql), () => database.prepare(sql));
          prepared.set(sql, statement);
        }
        return statement;
      },
    },
  });
}
