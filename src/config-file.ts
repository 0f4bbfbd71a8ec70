import type { Static } from 'typebox';
import { Type } from './lib/type.ts';
import { type CheckedSchema, firstSchemaError } from './lib/schema-errors.ts';

/**
 * The model registry part of the optional JSON config file (`CAUSERIE_CONFIG`): providers keyed by
 * id and public model ids mapped onto them. Its settings part (keys named like the variables) is
 * read field by field with the environment, in config.ts.
 */
const ProviderEntry = Type.Object(
  {
    base_url: Type.Optional(Type.String({ minLength: 1 })),
    api_key_env: Type.Optional(Type.String({ minLength: 1 })),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
    stream_usage: Type.Optional(Type.Boolean()),
    seed_field: Type.Optional(Type.Union([Type.Literal('seed'), Type.Literal('random_seed')])),
    discover: Type.Optional(Type.Boolean()),
    max_connections: Type.Optional(Type.Integer({ minimum: 1 })),
    http2: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

const Prices = Type.Object(
  {
    input: Type.Optional(Type.Number({ minimum: 0 })),
    output: Type.Optional(Type.Number({ minimum: 0 })),
    currency: Type.Optional(Type.String({ minLength: 1 })),
  },
  { additionalProperties: false },
);

const ModelEntry = Type.Object(
  {
    provider: Type.String({ minLength: 1 }),
    upstream: Type.Optional(Type.String({ minLength: 1 })),
    context_window: Type.Optional(Type.Number({ minimum: 0 })),
    prices: Type.Optional(Prices),
    capabilities: Type.Optional(Type.Array(Type.String())),
  },
  { additionalProperties: false },
);

const RegistryFile = Type.Object({
  providers: Type.Optional(Type.Record(Type.String(), ProviderEntry)),
  models: Type.Optional(Type.Record(Type.String(), ModelEntry)),
});

export type ProviderEntry = Static<typeof ProviderEntry>;
export type ModelEntryConfig = Static<typeof ModelEntry>;
/** The config file once validated: the registry typed, the settings as the file holds them. */
export type ConfigFile = Static<typeof RegistryFile> & Readonly<Record<string, unknown>>;

const providerIdPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const modelIdPattern = /^[\w.:@/-]{1,200}$/;
/** Providers Causerie knows without a config entry; "local" and "mock" cannot be redefined. */
export const builtInProviders = ['openai', 'mistral', 'ollama', 'mock', 'local'];

/** "providers.groq.base_url", "models["openai/gpt-4o"].prices.input": the path as an operator reads it. */
function pathOf(instancePath: string): string {
  const parts = instancePath
    .split('/')
    .slice(1)
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'));
  return parts
    .map((part, index) => (index === 1 && parts[0] === 'models' ? `["${part}"]` : index === 0 ? part : `.${part}`))
    .join('');
}

const hints: Record<string, string> = {
  base_url: 'must be an http(s) URL',
  seed_field: 'must be "seed" or "random_seed"',
  headers: 'must be an object of strings',
  capabilities: 'must be an array of strings',
  prices: 'must be {"input": n, "output": n} per million tokens',
  max_connections: 'must be a whole number \u2265 1 (leave it out for no cap)',
  http2: 'must be true or false',
};

function describe(error: { keyword: string; instancePath: string; params: Record<string, unknown> }): string {
  const path = pathOf(error.instancePath);
  const last = error.instancePath.split('/').at(-1) ?? '';
  switch (error.keyword) {
    case 'required':
      return `${path}.${(error.params.requiredProperties as string[])[0]} is required`;
    case 'additionalProperties':
      return `${path}.${(error.params.additionalProperties as string[])[0]} is not a known field`;
    case 'boolean': // the schema "false" of a field no entry may have
      return `${path} is not a known field`;
    case 'minimum':
      return last in hints
        ? `${path} ${hints[last]}`
        : `${path} must be a number \u2265 ${String(error.params.limit ?? 0)}`;
    case 'minLength':
      return `${path} must be a non-empty string`;
    default: {
      // A wrong item inside headers or capabilities is told as a wrong headers or capabilities field.
      const field = last in hints ? error.instancePath : error.instancePath.replace(/\/[^/]*$/, '');
      const hint = hints[field.split('/').at(-1) ?? ''];
      if (hint) return `${pathOf(field)} ${hint}`;
      if (error.keyword === 'type') return `${path} must be ${String(error.params.type)}`;
      return `${path} is not valid`;
    }
  }
}

/**
 * Checks the registry part of the config file: its shape (TypeBox), then what a schema cannot say
 * (id syntax, built-in providers, a model's provider declared somewhere, keys kept out of the file).
 * Returns the message of the first problem, naming its path, or undefined when the file is sound.
 */
export function registryProblem(file: Record<string, unknown>, envProviders: string[]): string | undefined {
  for (const [key, label] of [
    ['providers', 'providers must be an object keyed by provider id'],
    ['models', 'models must be an object keyed by public model id'],
  ] as const) {
    const value = file[key];
    if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) return label;
  }
  const providers = (file.providers ?? {}) as Record<string, Record<string, unknown>>;
  for (const [id, entry] of Object.entries(providers)) {
    const path = `providers.${id}`;
    if (!providerIdPattern.test(id)) return `${path}: a provider id is lowercase letters, digits, "-" or "_"`;
    if (id === 'local' || id === 'mock') return `${path}: "${id}" is built in and cannot be redefined`;
    if (entry && typeof entry === 'object' && ('api_key' in entry || 'apiKey' in entry))
      return `${path}: keys come from the environment only; use "api_key_env": "<VARIABLE>" instead of "api_key"`;
  }
  const first = firstSchemaError(RegistryFile as CheckedSchema, file);
  if (first) return describe(first);
  const typed = file as ConfigFile;
  for (const [id, entry] of Object.entries(typed.providers ?? {})) {
    const path = `providers.${id}`;
    const known = envProviders.includes(id);
    if (!known && entry.base_url === undefined) return `${path}.base_url must be a non-empty string`;
    if (entry.base_url !== undefined && !/^https?:\/\//.test(entry.base_url))
      return `${path}.base_url must be an http(s) URL`;
  }
  for (const [id, entry] of Object.entries(typed.models ?? {})) {
    const path = `models["${id}"]`;
    if (!modelIdPattern.test(id)) return `${path}: a model id is letters, digits and . : @ / _ -`;
    const declared =
      envProviders.includes(entry.provider) ||
      builtInProviders.includes(entry.provider) ||
      typed.providers?.[entry.provider] !== undefined;
    if (!declared) return `${path}.provider: no provider "${entry.provider}" is declared`;
  }
  return undefined;
}
