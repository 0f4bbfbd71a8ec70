import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Kysely, PostgresDialect } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import * as initial from './migrations/001-initial.ts';
import * as conversationStreams from './migrations/002-conversation-streams.ts';
import * as usageRecordsByTime from './migrations/003-usage-records-by-time.ts';
import * as messageMetadata from './migrations/004-message-metadata.ts';
import * as agents from './migrations/005-agents.ts';
import * as searchIndex from './migrations/006-search-index.ts';
import * as documentsAndPrompts from './migrations/007-documents-and-prompts.ts';
import * as searchRecords from './migrations/008-search-records.ts';
import * as publicAgents from './migrations/009-public-agents.ts';
import * as apiKeyParents from './migrations/012-api-key-parents.ts';
import * as idempotencyKeys from './migrations/014-idempotency-keys.ts';
import * as documentChunksSearch from './migrations/015-document-chunks-search.ts';
import type { Database } from './schema.ts';
import { nodeSqliteDialect } from './sqlite-dialect.ts';

export type Dialect = 'sqlite' | 'postgres';

export interface SqlStore {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

/** Migrations in order; each receives the dialect for the few types that differ. */
const migrations: Record<string, (dialect: Dialect) => Migration> = {
  '001-initial': (dialect) => ({ up: (db) => initial.up(db, dialect) }),
  '002-conversation-streams': () => ({ up: (db) => conversationStreams.up(db) }),
  '003-usage-records-by-time': () => ({ up: (db) => usageRecordsByTime.up(db) }),
  '004-message-metadata': () => ({ up: (db) => messageMetadata.up(db) }),
  '005-agents': (dialect) => ({ up: (db) => agents.up(db, dialect) }),
  '006-search-index': (dialect) => ({ up: (db) => searchIndex.up(db, dialect) }),
  '007-documents-and-prompts': (dialect) => ({ up: (db) => documentsAndPrompts.up(db, dialect) }),
  '008-search-records': (dialect) => ({ up: (db) => searchRecords.up(db, dialect) }),
  '009-public-agents': (dialect) => ({ up: (db) => publicAgents.up(db, dialect) }),
  '012-api-key-parents': () => ({ up: (db) => apiKeyParents.up(db) }),
  '014-idempotency-keys': (dialect) => ({ up: (db) => idempotencyKeys.up(db, dialect) }),
  '015-document-chunks-search': (dialect) => ({ up: (db) => documentChunksSearch.up(db, dialect) }),
};

/** The PostgreSQL client, loaded only when a database URL is given (SQLite servers never need it). */
async function loadPg() {
  const { default: pg } = await import('pg');
  // pg returns int8 (COUNT, SUM, bigint columns) as strings; our sums fit in a double.
  pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));
  pg.types.setTypeParser(pg.types.builtins.NUMERIC, (value) => Number(value));
  return pg;
}

/** Opens PostgreSQL when a URL is given, else the SQLite file, and brings the schema up to date. */
export async function openDatabase(options: { databaseUrl?: string; sqlitePath: string }): Promise<SqlStore> {
  let db: Kysely<Database>;
  let dialect: Dialect;
  if (options.databaseUrl) {
    dialect = 'postgres';
    const pg = await loadPg();
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 20 });
    // An idle connection dropped by the server (restart, failover, pg_terminate_backend) is an
    // 'error' event; pg discards that client and the next query opens a new one. Without a
    // listener the event would crash the process.
    pool.on('error', () => {});
    db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  } else {
    dialect = 'sqlite';
    // The database holds every conversation and the password hashes: the folder is the owner's only.
    if (options.sqlitePath !== ':memory:') mkdirSync(dirname(options.sqlitePath), { recursive: true, mode: 0o700 });
    db = new Kysely<Database>({ dialect: nodeSqliteDialect(options.sqlitePath) });
  }
  const migrator = new Migrator({
    db,
    provider: {
      getMigrations: async () =>
        Object.fromEntries(Object.entries(migrations).map(([name, build]) => [name, build(dialect)])),
    },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) {
    await db.destroy();
    throw error;
  }
  if (dialect === 'sqlite' && options.sqlitePath !== ':memory:') {
    // SQLite creates its files with the umask's mode (often 644) and the journal files with the database's.
    for (const path of [options.sqlitePath, `${options.sqlitePath}-wal`, `${options.sqlitePath}-shm`])
      if (existsSync(path)) chmodSync(path, 0o600);
  }
  return { db, dialect, close: () => db.destroy() };
}
