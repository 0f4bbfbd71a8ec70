import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/main.ts';
import { openDatabase, type SqlStore } from '../../src/stores/sql/database.ts';
import type { Clock } from '../../src/domain/clock.ts';
import type { Json } from './wire.ts';

export type Dialect = 'sqlite' | 'postgres';

/** Every database-backed test runs once per dialect, against real databases. */
export const dialects: Dialect[] = ['sqlite', 'postgres'];

export const postgresAdminUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A fresh PostgreSQL database for one test, dropped by the returned function. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `causerie_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(postgresAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: postgresAdminUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

/** The SQL store alone, migrated, on a temp SQLite file or a fresh PostgreSQL database, for service tests. */
export async function openTestSql(dialect: Dialect): Promise<{ sql: SqlStore; close(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'causerie-sql-'));
    const sql = await openDatabase({ sqlitePath: join(dir, 'test.sqlite') });
    return {
      sql,
      close: async () => {
        await sql.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const database = await createPostgresDatabase();
  const sql = await openDatabase({ databaseUrl: database.url, sqlitePath: '' });
  return {
    sql,
    close: async () => {
      await sql.close();
      await database.drop();
    },
  };
}

/** A database for a whole-server test: a temp SQLite folder or a fresh PostgreSQL database. */
export async function createTestDatabase(
  dialect: Dialect,
): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'causerie-test-'));
  const removeDir = () => rmSync(dataDir, { recursive: true, force: true });
  if (dialect === 'sqlite') return { env: { CAUSERIE_DATA_DIR: dataDir }, drop: async () => removeDir() };
  const database = await createPostgresDatabase();
  return {
    env: { CAUSERIE_DATA_DIR: dataDir, DATABASE_URL: database.url },
    async drop() {
      await database.drop();
      removeDir();
    },
  };
}

export interface TestServer extends RunningServer {
  /** The first admin's API key and password, as printed on first start. */
  adminKey: string;
  adminPassword: string;
  env: Record<string, string>;
  /** fetch against the server, JSON in and out. */
  api(
    path: string,
    options?: { method?: string; body?: unknown; auth?: string | null; headers?: Record<string, string> },
  ): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: Json;
  text: string;
}

/** Starts a whole Causerie on loopback (random port) with its own database. */
export async function startTestServer(
  options: { dialect?: Dialect; env?: Record<string, string>; clock?: Clock } = {},
): Promise<TestServer> {
  const database = await createTestDatabase(options.dialect ?? 'sqlite');
  // No test downloads the default local model from the network (test/e2e/auto-pull.test.ts turns it on, against loopback).
  const env = {
    HOST: '127.0.0.1',
    PORT: '0',
    CAUSERIE_ADMIN_PASSWORD: 'admin-password-for-tests',
    CAUSERIE_AUTO_PULL: 'false',
    ...database.env,
    ...options.env,
  };
  const config = loadConfig(env);
  let printed = '';
  let server: RunningServer;
  try {
    server = await startServer(config, { clock: options.clock, print: (text) => (printed += text), logger: false });
  } catch (error) {
    await database.drop();
    throw error;
  }
  const adminKey = /API_[A-Z0-9_]+/.exec(printed)?.[0] ?? '';
  const api: TestServer['api'] = async (path, { method = 'GET', body, auth = adminKey, headers = {} } = {}) => {
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(auth ? { authorization: auth.includes(' ') ? auth : `Bearer ${auth}` } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {}
    return { status: response.status, headers: response.headers, body: parsed, text };
  };
  return {
    ...server,
    adminKey,
    adminPassword: env.CAUSERIE_ADMIN_PASSWORD,
    env,
    api,
    async stop() {
      await server.close();
      await database.drop();
    },
  };
}

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start = Date.parse('2026-01-15T12:00:00.000Z')) {
    this.current = start;
  }
  now() {
    return this.current;
  }
  set(ms: number) {
    this.current = ms;
  }
  advance(ms: number) {
    this.current += ms;
  }
}
