import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { AppError } from './domain/errors.ts';
import { randomToken } from './domain/secrets.ts';
import { buildApp, logOptions, type App } from './http/app.ts';
import { createServices, type Services } from './services.ts';
import { openDatabase } from './stores/sql/database.ts';

export const version = '0.1.0';

/** The token-signing secret: from the environment, else generated once into the data folder (mode 600). */
function tokenSecret(config: Config): string {
  if (config.tokenSecret) return config.tokenSecret;
  const path = join(resolve(config.dataDir), 'token-secret');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(resolve(config.dataDir), { recursive: true });
  const secret = randomToken(48);
  writeFileSync(path, secret, { mode: 0o600 });
  chmodSync(path, 0o600);
  return secret;
}

/** On an empty database: an admin account and a first API key, printed once on the console. */
async function bootstrapAdmin(services: Services, url: string, print: (text: string) => void): Promise<void> {
  if ((await services.users.count()) > 0) return;
  const { config } = services;
  const password = config.adminPassword ?? randomToken(18);
  let admin;
  try {
    admin = await services.users.create({ username: config.adminUsername, password, role: 'admin' }, { userId: 0, role: 'admin' });
  } catch (error) {
    if (error instanceof AppError && error.code === 'conflict') return; // another node won the race
    throw error;
  }
  const { key } = await services.apiKeys.create({ userId: admin.id, role: 'admin' }, { name: 'first admin key' });
  const lines = [
    'Causerie created the first admin account. This is shown once; store it now.',
    `  username: ${admin.username}`,
    config.adminPassword ? '  password: (from CAUSERIE_ADMIN_PASSWORD)' : `  password: ${password}`,
    `  API key:  ${key}`,
    `Try: curl -H "Authorization: Bearer ${key}" ${url}/api/v1/me`,
  ];
  const width = Math.max(...lines.map((l) => l.length));
  const bar = '─'.repeat(width + 2);
  print(`┌${bar}┐\n${lines.map((l) => `│ ${l.padEnd(width)} │`).join('\n')}\n└${bar}┘\n`);
}

/** A data folder others can read exposes every conversation: say so at start-up (it is not changed for the owner). */
function dataDirWarning(config: Config): string | undefined {
  const dir = resolve(config.dataDir);
  if (config.databaseUrl || !existsSync(dir) || (statSync(dir).mode & 0o077) === 0) return undefined;
  return `Warning: the data folder ${dir} can be read by other local users; run chmod 700 on it.\n`;
}

export interface RunningServer {
  app: App;
  services: Services;
  url: string;
  close(): Promise<void>;
}

/** Opens the stores, builds the services and the HTTP app, and listens. */
export async function startServer(
  config: Config,
  options: { clock?: Clock; print?: (text: string) => void; logger?: false } = {},
): Promise<RunningServer> {
  const sql = await openDatabase({ databaseUrl: config.databaseUrl, sqlitePath: join(resolve(config.dataDir), 'causerie.sqlite') });
  const services = createServices({ config, sql, clock: options.clock ?? systemClock, tokenSecret: tokenSecret(config), version });
  let app: App | undefined;
  let url: string;
  try {
    // Before serving: settle replies a killed process left streaming (docs/conversations.md).
    await services.streamRecovery.start();
    // Re-queues rows of another embedding model, then indexes in the background.
    await services.searchIndexer.start();
    app = await buildApp({ services, logger: options.logger ?? logOptions(config.logLevel) });
    url = await app.listen({ host: config.host, port: config.port });
    const warning = dataDirWarning(config);
    if (warning) (options.print ?? ((text) => process.stderr.write(text)))(warning);
    // After listen, so the banner shows the real address, and a port already in use does not
    // create an admin whose credentials nobody saw.
    await bootstrapAdmin(services, url, options.print ?? ((text) => process.stdout.write(text)));
  } catch (error) {
    await app?.close();
    await services.close();
    throw error;
  }
  return {
    app,
    services,
    url,
    async close() {
      await app.close();
      await services.close();
    },
  };
}
