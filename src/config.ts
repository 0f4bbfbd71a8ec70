import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** One configuration field: where it comes from, its default, its rule, what it is for. */
interface Field<T> {
  env: string;
  description: string;
  default: T | undefined;
  parse: (raw: string) => T;
  secret?: boolean;
}

class ConfigError extends Error {}

const text = (raw: string) => raw;
const integer = (min: number, max: number) => (raw: string) => {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`must be an integer between ${min} and ${max}`);
  }
  return value;
};
const boolean = (raw: string) => {
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError('must be true or false');
};
const oneOf = <T extends string>(...values: T[]) => (raw: string) => {
  if (!values.includes(raw as T)) throw new ConfigError(`must be one of ${values.join(', ')}`);
  return raw as T;
};
const url = (...protocols: string[]) => (raw: string) => {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError('must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(`must be a ${protocols.join(' or ')} URL`);
  }
  return raw.replace(/\/+$/, '');
};

/**
 * Every setting Causerie reads. docs/configuration.md is checked against this table by a test,
 * so a new field is documented or the suite fails.
 */
export const fields = {
  host: { env: 'HOST', description: 'Address the HTTP server binds to.', default: '127.0.0.1', parse: text },
  port: { env: 'PORT', description: 'Port the HTTP server listens on.', default: 3001, parse: integer(0, 65535) },
  dataDir: {
    env: 'CAUSERIE_DATA_DIR',
    description: 'Folder for the SQLite database, the token secret and local models.',
    default: './data',
    parse: text,
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    description: 'postgres:// URL to use PostgreSQL instead of the embedded SQLite file.',
    default: undefined,
    parse: url('postgres:', 'postgresql:'),
    secret: true,
  },
  redisUrl: {
    env: 'REDIS_URL',
    description: 'redis:// URL: limits and quotas are then shared by every node through Redis.',
    default: undefined,
    parse: url('redis:', 'rediss:'),
    secret: true,
  },
  redisPrefix: {
    env: 'CAUSERIE_REDIS_PREFIX',
    description: 'Prefix of every Redis key Causerie writes, so several deployments (or tests) can share one Redis.',
    default: 'causerie:',
    parse: text,
  },
  defaultPlan: {
    env: 'CAUSERIE_DEFAULT_PLAN',
    description: 'Name of the plan whose limits apply to users who have none (unset: such users have no plan limits).',
    default: undefined,
    parse: text,
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'Log level: fatal, error, warn, info, debug, trace or silent.',
    default: 'info',
    parse: oneOf('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'),
  },
  adminUsername: {
    env: 'CAUSERIE_ADMIN_USERNAME',
    description: 'Username of the admin account created on first start.',
    default: 'admin',
    parse: text,
  },
  adminPassword: {
    env: 'CAUSERIE_ADMIN_PASSWORD',
    description: 'Password of the admin account created on first start (generated and printed once when unset).',
    default: undefined,
    parse: text,
    secret: true,
  },
  allowSignup: {
    env: 'CAUSERIE_ALLOW_SIGNUP',
    description: 'Whether anyone may create an account with POST /users (admins always can).',
    default: true,
    parse: boolean,
  },
  tokenSecret: {
    env: 'CAUSERIE_TOKEN_SECRET',
    description: 'Secret signing OAuth access tokens (at least 32 characters); generated into the data folder when unset. Set it when several nodes share a database.',
    default: undefined,
    parse: (raw: string) => {
      if (raw.length < 32) throw new ConfigError('must be at least 32 characters');
      return raw;
    },
    secret: true,
  },
  accessTokenSeconds: {
    env: 'CAUSERIE_ACCESS_TOKEN_TTL',
    description: 'Lifetime of an OAuth access token, in seconds.',
    default: 900,
    parse: integer(10, 86_400),
  },
  refreshTokenSeconds: {
    env: 'CAUSERIE_REFRESH_TOKEN_TTL',
    description: 'Lifetime of an OAuth refresh token, in seconds.',
    default: 30 * 86_400,
    parse: integer(60, 365 * 86_400),
  },
  bodyLimitBytes: {
    env: 'CAUSERIE_BODY_LIMIT',
    description: 'Largest accepted request body, in bytes (larger bodies get 413).',
    default: 1_048_576,
    parse: integer(1024, 100 * 1_048_576),
  },
  shutdownGraceSeconds: {
    env: 'CAUSERIE_SHUTDOWN_GRACE',
    description: 'Seconds in-flight requests get to finish after SIGTERM before the process exits.',
    default: 30,
    parse: integer(0, 3600),
  },
  defaultModel: {
    env: 'CAUSERIE_DEFAULT_MODEL',
    description: 'Model id used by conversations that name none (spec 004 chats, spec 001 conversations); default: the first available chat model.',
    default: undefined,
    parse: text,
  },
  streamStaleSeconds: {
    env: 'CAUSERIE_STREAM_STALE_SECONDS',
    description: 'Seconds after which a reply no process has written is considered abandoned (its node died): its conversation accepts new completions and, in cluster mode, the reply is marked error.',
    default: 30,
    parse: integer(1, 3600),
  },
  configFile: {
    env: 'CAUSERIE_CONFIG',
    description: 'Optional JSON file with the same settings (keys are the variable names) and the model registry.',
    default: undefined,
    parse: text,
  },
} satisfies Record<string, Field<unknown>>;

type Fields = typeof fields;
type ValueOf<F> = F extends Field<infer T> ? T : never;
type Settings = {
  [K in keyof Fields]: Fields[K]['default'] extends undefined ? ValueOf<Fields[K]> | undefined : ValueOf<Fields[K]>;
};

export type Config = Readonly<Settings & { mode: 'embedded' | 'cluster'; file: Record<string, unknown> }>;

export class InvalidConfigError extends Error {}

/**
 * Builds the one config object from the environment (and the optional JSON file), validating
 * every value once. A bad value throws an error whose message names the variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const filePath = env[fields.configFile.env];
  let file: Record<string, unknown> = {};
  if (filePath) {
    try {
      file = JSON.parse(readFileSync(resolve(filePath), 'utf8')) as Record<string, unknown>;
    } catch (error) {
      throw new InvalidConfigError(`${fields.configFile.env}: cannot read ${filePath}: ${(error as Error).message}`);
    }
  }
  const settings: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields) as [string, Field<unknown>][]) {
    const fromFile = file[field.env];
    const raw = env[field.env] ?? (fromFile === undefined ? undefined : String(fromFile));
    if (raw === undefined || raw === '') {
      settings[key] = field.default;
      continue;
    }
    try {
      settings[key] = field.parse(raw);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      const shown = field.secret ? '(hidden)' : JSON.stringify(raw);
      throw new InvalidConfigError(`${field.env} ${error.message} (got ${shown})`);
    }
  }
  const mode = settings.databaseUrl ? 'cluster' : 'embedded';
  return Object.freeze({ ...(settings as Settings), mode, file });
}
