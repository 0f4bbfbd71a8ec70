import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Config } from './config.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { AppError } from './domain/errors.ts';
import { startAutoPull, type AutoPull } from './domain/models/auto-pull.ts';
import { randomToken } from './domain/secrets.ts';
import { buildApp, type App } from './http/app.ts';
import { createLogger, type Logger, silentLogger } from './http/logger.ts';
import { createServices, type Services } from './services.ts';
import { openDatabase } from './stores/sql/database.ts';
import { capYoungGeneration, releaseStartupMemory } from './lib/release-startup-memory.ts';

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

/**
 * On an empty database: an admin account and a first API key. Returns the box that shows them
 * once, given the listening address (undefined when there is nothing to show).
 */
async function bootstrapAdmin(services: Services): Promise<((url: string) => string) | undefined> {
  if ((await services.users.count()) > 0) return undefined;
  const { config } = services;
  const password = config.adminPassword ?? randomToken(18);
  let admin: Awaited<ReturnType<typeof services.users.create>>;
  try {
    admin = await services.users.create(
      { userId: 0, role: 'admin' },
      { username: config.adminUsername, password, role: 'admin' },
    );
  } catch (error) {
    if (error instanceof AppError && error.code === 'conflict') return undefined; // another node won the race
    throw error;
  }
  const { key } = await services.apiKeys.create({ userId: admin.id, role: 'admin' }, { name: 'first admin key' });
  const username = admin.username;
  return (url) => {
    const lines = [
      'Causerie created the first admin account. This is shown once; store it now.',
      `  username: ${username}`,
      config.adminPassword ? '  password: (from CAUSERIE_ADMIN_PASSWORD)' : `  password: ${password}`,
      `  API key:  ${key}`,
      `Try: curl -H "Authorization: Bearer ${key}" ${url}/api/v1/me`,
    ];
    const width = Math.max(...lines.map((l) => l.length));
    // A box drawn with Unicode box-drawing characters (escaped: sources stay Latin-1).
    const bar = '\u2500'.repeat(width + 2);
    return `\u250c${bar}\u2510\n${lines.map((l) => `\u2502 ${l.padEnd(width)} \u2502`).join('\n')}\n\u2514${bar}\u2518\n`;
  };
}

/**
 * Fails with EADDRINUSE before anything is created when the port is taken, so a busy port does not
 * create an admin whose credentials nobody saw. (Port 0 picks a free port: nothing to check.)
 */
async function assertPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const probe = createNetServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
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
  /**
   * The graceful stop of SIGTERM: readiness goes false and responses say Connection: close at
   * once; after `delayMs` (time for a balancer to notice) the socket stops listening; running
   * requests and streams get until `graceMs` after the call to finish, then answers still running
   * are stopped and kept as they stand (cancelled), and everything is closed.
   */
  shutdown(options: { delayMs: number; graceMs: number }): Promise<void>;
}

/** Opens the stores, builds the services and the HTTP app, and listens. */
export async function startServer(
  config: Config,
  options: {
    clock?: Clock;
    print?: (text: string) => void;
    logger?: false | Logger;
    /**
     * The command line's server (tests skip it): a collection before listening gives back
     * start-up's memory, and the young generation is kept small (decision 026).
     */
    releaseStartupMemory?: boolean;
  } = {},
): Promise<RunningServer> {
  const sql = await openDatabase({
    databaseUrl: config.databaseUrl,
    sqlitePath: join(resolve(config.dataDir), 'causerie.sqlite'),
  });
  const pretty = config.logFormat === 'pretty' || (config.logFormat === 'auto' && process.stdout.isTTY === true);
  const logger =
    options.logger === false ? silentLogger() : (options.logger ?? createLogger(config.logLevel, { pretty }));
  const services = createServices({
    config,
    sql,
    clock: options.clock ?? systemClock,
    tokenSecret: tokenSecret(config),
    version,
    logger,
  });
  let app: App | undefined;
  let url: string;
  let pull: AutoPull | undefined;
  let uncap: (() => void) | undefined;
  try {
    // Before serving: settle replies a killed process left streaming (docs/conversations.md).
    await services.streamRecovery.start();
    // Re-queues rows of another embedding model, then indexes in the background.
    await services.searchIndexer.start();
    app = await buildApp({ services, logger });
    const warning = dataDirWarning(config);
    if (warning) (options.print ?? ((text) => process.stderr.write(text)))(warning);
    await assertPortFree(config.host, config.port);
    let box = await bootstrapAdmin(services);
    if (options.releaseStartupMemory) {
      // Routes are registered at `ready`: collect once they are, so the first request finds the heap at rest.
      await app.ready();
      releaseStartupMemory();
      uncap = capYoungGeneration(32);
    }
    // The box is printed as the socket starts listening, with the real address: before the
    // "listening" line and before any request is read (they wait for the next turn of the loop).
    url = await app.listen({
      host: config.host,
      port: config.port,
      listenTextResolver: (address) => {
        // Called once per address (every interface for 0.0.0.0): one box, with the first.
        const text = box?.(address);
        box = undefined;
        if (text) (options.print ?? ((t) => process.stdout.write(t)))(text);
        return `Server listening at ${address}`;
      },
    });
    pull = await startAutoPull({ config, models: services.models, log: logger.child({ module: 'auto-pull' }) });
  } catch (error) {
    uncap?.();
    await app?.close();
    await services.close();
    throw error;
  }
  // `stopRunning`: stop the answers still running once no request is left (a plain close); a
  // graceful shutdown lets them finish until its grace period ends. Either way the stores close
  // only after every answer has written its reply and usage row.
  const closeAfterAnswers = async (stopRunning: boolean, graceMs = 0) => {
    uncap?.();
    pull?.stop();
    await pull?.done;
    await app.close();
    if (stopRunning) services.running.stopAll();
    // Bounded: an answer whose stream nobody ever read only leaves at its duration cap.
    let bound: NodeJS.Timeout | undefined;
    await Promise.race([
      services.running.settled(),
      new Promise((resolve) => {
        bound = setTimeout(resolve, graceMs + 10_000);
      }),
    ]);
    clearTimeout(bound);
    await services.close();
  };
  const close = () => closeAfterAnswers(true);
  return {
    app,
    services,
    url,
    close,
    async shutdown({ delayMs, graceMs }) {
      const started = performance.now();
      app.lifecycle.draining = true;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, Math.min(delayMs, graceMs)));
      const graceLeft = Math.max(0, graceMs - (performance.now() - started));
      let cut: NodeJS.Timeout | undefined;
      const graceOver = setTimeout(() => {
        app.lifecycle.stopping = true;
        const stopped = services.running.stopAll();
        if (stopped > 0) app.log.warn({ stopped }, 'grace period over: answers still running were stopped');
        // Stopped answers end their responses at once; a connection still open a second later
        // (a client that never finished sending its request) is cut.
        cut = setTimeout(() => app.server.closeAllConnections(), 1000);
      }, graceLeft);
      try {
        await closeAfterAnswers(false, graceLeft);
      } finally {
        clearTimeout(graceOver);
        clearTimeout(cut);
      }
    },
  };
}
