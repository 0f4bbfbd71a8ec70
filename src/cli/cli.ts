import { parseArgs } from 'node:util';
import { InvalidConfigError, loadConfig, type Config } from '../config.ts';
import { createLogger } from '../http/logger.ts';
import { startServer, version } from '../main.ts';
import { systemClock } from '../domain/clock.ts';
import { AppError } from '../domain/errors.ts';
import { openDatabase } from '../stores/sql/database.ts';
import { createServices } from '../services.ts';
import { join, resolve } from 'node:path';
import { randomToken } from '../domain/secrets.ts';
import { runModelsPull } from './models-pull.ts';
import { outboundPolicy } from '../providers/web/connect-guard.ts';

const usage = `Causerie ${version}

Usage:
  causerie start                                   start the server (the default)
  causerie users create <username> [--password P] [--admin]
  causerie keys create <username> [--name N] [--expires-in-days D]
  causerie models removed                          list the models an admin removed
  causerie models restore <model_id>               restore a removed model (a running server lists it at its next refresh)
  causerie models pull [<uri>]                     download a GGUF model (hf:<user>/<repo>/<file>.gguf or a URL;
                                                   the default local model without <uri>) into CAUSERIE_MODELS_DIR

Configuration comes from the environment: see docs/configuration.md.`;

async function withServices<T>(
  config: Config,
  run: (services: ReturnType<typeof createServices>) => Promise<T>,
): Promise<T> {
  const sql = await openDatabase({
    databaseUrl: config.databaseUrl,
    sqlitePath: join(resolve(config.dataDir), 'causerie.sqlite'),
  });
  const services = createServices({
    config,
    sql,
    clock: systemClock,
    tokenSecret: 'cli-does-not-sign-tokens-'.padEnd(32, 'x'),
    version,
    // Warnings of a command go to stderr, so they never mix with what it prints.
    logger: createLogger(config.logLevel, { destination: process.stderr }),
  });
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}

const cliAdmin = { userId: 0, role: 'admin' as const };

/** A mistake in the command line: shown with the usage, exit code 2. */
class UsageError extends Error {}

function days(raw: string): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 3650)
    throw new UsageError('--expires-in-days must be a whole number of days between 1 and 3650');
  return value;
}

async function start(config: Config) {
  const server = await startServer(config, { releaseStartupMemory: true });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.app.log.info({ signal }, 'shutting down: finishing in-flight requests');
    const graceMs = config.shutdownGraceSeconds * 1000;
    // Answers still running at the end of the grace period are stopped and stored; this is only
    // for a close that hangs after that (a stuck connection, a database that does not answer).
    const timer = setTimeout(() => {
      server.app.log.error('shutdown did not finish after the grace period, exiting');
      process.exit(1);
    }, graceMs + 10_000);
    timer.unref();
    server.shutdown({ delayMs: config.shutdownDelayMs, graceMs }).then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        password: { type: 'string' },
        admin: { type: 'boolean' },
        name: { type: 'string' },
        'expires-in-days': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

async function main(argv: string[]) {
  const { positionals, values } = parseCommandLine(argv);
  if (values.help) return console.log(usage);
  const [command = 'start', subcommand, argument] = positionals;
  if (command === 'start') return start(loadConfig());
  if (command === 'users' && subcommand === 'create' && argument) {
    const password = values.password ?? randomToken(12);
    const user = await withServices(loadConfig(), (s) =>
      s.users.create(cliAdmin, { username: argument, password, role: values.admin ? 'admin' : 'user' }),
    );
    console.log(
      `Created ${user.role} "${user.username}" (id ${user.id}).${values.password ? '' : ` Password: ${password}`}`,
    );
    return;
  }
  if (command === 'models' && subcommand === 'pull') {
    const config = loadConfig();
    process.exitCode = await runModelsPull(argument, config.modelsDir, outboundPolicy(config));
    return;
  }
  if (command === 'models' && subcommand === 'removed') {
    const removed = await withServices(loadConfig(), (s) => s.models.listRemoved(cliAdmin));
    console.log(
      removed.length === 0 ? 'No removed models.' : removed.map((m) => `${m.id}\tremoved ${m.removed_at}`).join('\n'),
    );
    return;
  }
  if (command === 'models' && subcommand === 'restore' && argument) {
    await withServices(loadConfig(), (s) => s.models.restore(cliAdmin, argument));
    console.log(`Restored model "${argument}".`);
    return;
  }
  if (command === 'keys' && subcommand === 'create' && argument) {
    const expiresInDays = values['expires-in-days'] === undefined ? undefined : days(values['expires-in-days']);
    const { key, apiKey } = await withServices(loadConfig(), async (s) => {
      const user = await s.users.find(argument);
      if (!user) throw new AppError('not_found', `No user "${argument}"`);
      return s.apiKeys.create(cliAdmin, { name: values.name, user_id: user.id, expires_in_days: expiresInDays });
    });
    const expiry = apiKey.expires_at ? `, expires ${apiKey.expires_at}` : '';
    console.log(`API key for ${JSON.stringify(argument)} (id ${apiKey.id}${expiry}), shown once:\n${key}`);
    return;
  }
  throw new UsageError(`unknown command "${positionals.join(' ')}"`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof UsageError) {
    console.error(`causerie: ${error.message}\n\n${usage}`);
    process.exit(2);
  }
  const { code, port, address } = error as { code?: string; port?: number; address?: string };
  if (code === 'EADDRINUSE')
    console.error(
      `causerie: port ${port} on ${address} is already in use; set PORT to another port (or HOST to another address)`,
    );
  else if (error instanceof InvalidConfigError || error instanceof AppError)
    console.error(`causerie: ${error.message}`);
  else console.error('causerie: failed:', error instanceof Error ? error.message : error);
  process.exit(1);
});
