import type { Config } from '../../config.ts';
import { metadataReason, parseAllowlist } from '../../providers/web/address-guard.ts';

/** An OpenAI-compatible provider to register, from the environment or the config file. */
export interface ProviderSpec {
  id: string;
  kind: 'openai-compatible' | 'mock';
  baseUrl: string;
  apiKey?: string;
  /** The variable holding the key, named in error messages (never its value). */
  keyVariable?: string;
  headers?: Record<string, string>;
  streamUsage: boolean;
  seedField: 'seed' | 'random_seed';
  /** Whether its models come from GET /v1/models (false when the config lists them). */
  discover: boolean;
  /** The config names a key variable that is unset: listed, but not usable. */
  keyMissing?: boolean;
  /** It has Mistral's Agents API (Causerie agents are mirrored there): the provider "mistral". */
  agentsApi?: boolean;
}

/** Prices per million tokens, in the currency the operator bills in. */
export interface Prices {
  input: number;
  output: number;
  currency: string;
}

/** A public model id mapped by the config file. */
export interface ModelSpec {
  id: string;
  provider: string;
  upstream: string;
  contextWindow?: number;
  prices?: Prices;
  capabilities?: string[];
}

export class InvalidRegistryError extends Error {}

const providerIdPattern = /^[a-z0-9][a-z0-9_-]{0,63}$/;
const builtInProviders = ['openai', 'mistral', 'ollama', 'mock', 'local'];

/** Where a provider that is not registered would come from, for "not configured" messages. */
export const howToEnable: Record<string, string> = {
  openai: 'set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible server)',
  mistral: 'set MISTRAL_API_KEY',
  ollama: 'set OLLAMA_BASE_URL',
  mock: 'set CAUSERIE_MOCK_PROVIDER=true',
  local: 'run `npm run models:pull`',
};

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function positive(path: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new InvalidRegistryError(`${path} must be a number ≥ 0`);
  return value;
}

function text(path: string, value: unknown, required = false): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value === '') throw new InvalidRegistryError(`${path} must be a non-empty string`);
  return value;
}

/** Ollama serves the OpenAI API under /v1; accept its bare address too. */
const ollamaV1 = (url: string) => (/\/v1$/.test(url) ? url : `${url}/v1`);

/** Providers the environment enables with no other step. */
function environmentProviders(config: Config): ProviderSpec[] {
  const specs: ProviderSpec[] = [];
  const base = { streamUsage: true, seedField: 'seed' as const, discover: true };
  if (config.openaiApiKey || config.openaiBaseUrl) {
    specs.push({
      ...base,
      id: 'openai',
      kind: 'openai-compatible',
      baseUrl: config.openaiBaseUrl ?? 'https://api.openai.com/v1',
      apiKey: config.openaiApiKey,
      keyVariable: 'OPENAI_API_KEY',
    });
  }
  if (config.mistralApiKey) {
    // Mistral refuses stream_options (it reports usage anyway) and names the seed random_seed.
    specs.push({
      ...base,
      id: 'mistral',
      kind: 'openai-compatible',
      baseUrl: config.mistralBaseUrl,
      apiKey: config.mistralApiKey,
      keyVariable: 'MISTRAL_API_KEY',
      streamUsage: false,
      seedField: 'random_seed',
      agentsApi: true,
    });
  }
  if (config.ollamaBaseUrl)
    specs.push({ ...base, id: 'ollama', kind: 'openai-compatible', baseUrl: ollamaV1(config.ollamaBaseUrl) });
  return specs;
}

/**
 * The providers and mapped models the configuration declares: environment first, then the config
 * file's "providers" (which may also override a built-in one) and "models". Throws with the path of
 * the first invalid entry.
 */
export function registrySpecs(config: Config): { providers: ProviderSpec[]; models: ModelSpec[] } {
  const specs = registeredSpecs(config);
  // A provider pointed at the host's link-local or cloud metadata address would send it our
  // requests (and keys), and quote its answers back: refused unless allowlisted.
  const allowlist = parseAllowlist(config.fetchAllowlist);
  for (const provider of specs.providers) {
    const reason = provider.baseUrl.startsWith('http') ? metadataReason(provider.baseUrl, allowlist) : undefined;
    if (reason)
      throw new InvalidRegistryError(
        `provider "${provider.id}": base URL ${provider.baseUrl} is ${reason}; list it in CAUSERIE_FETCH_ALLOWLIST if that is meant`,
      );
  }
  return specs;
}

function registeredSpecs(config: Config): { providers: ProviderSpec[]; models: ModelSpec[] } {
  const providers = new Map(environmentProviders(config).map((spec) => [spec.id, spec]));
  const file = config.file;
  if (file.providers !== undefined && !isRecord(file.providers))
    throw new InvalidRegistryError('providers must be an object keyed by provider id');
  for (const [id, raw] of Object.entries((file.providers as Record<string, unknown>) ?? {})) {
    const path = `providers.${id}`;
    if (!providerIdPattern.test(id))
      throw new InvalidRegistryError(`${path}: a provider id is lowercase letters, digits, "-" or "_"`);
    if (id === 'local' || id === 'mock')
      throw new InvalidRegistryError(`${path}: "${id}" is built in and cannot be redefined`);
    if (!isRecord(raw)) throw new InvalidRegistryError(`${path} must be an object`);
    const known = providers.get(id);
    const baseUrl = text(`${path}.base_url`, raw.base_url, !known);
    if (baseUrl && !/^https?:\/\//.test(baseUrl))
      throw new InvalidRegistryError(`${path}.base_url must be an http(s) URL`);
    const keyVariable = text(`${path}.api_key_env`, raw.api_key_env) ?? known?.keyVariable;
    const headers = raw.headers;
    if (headers !== undefined && (!isRecord(headers) || Object.values(headers).some((v) => typeof v !== 'string'))) {
      throw new InvalidRegistryError(`${path}.headers must be an object of strings`);
    }
    if (raw.seed_field !== undefined && raw.seed_field !== 'seed' && raw.seed_field !== 'random_seed') {
      throw new InvalidRegistryError(`${path}.seed_field must be "seed" or "random_seed"`);
    }
    providers.set(id, {
      id,
      kind: 'openai-compatible',
      baseUrl: (baseUrl ?? known!.baseUrl).replace(/\/+$/, ''),
      apiKey: raw.api_key_env !== undefined ? config.providerSecrets[raw.api_key_env as string] : known?.apiKey,
      keyVariable,
      headers: headers as Record<string, string> | undefined,
      streamUsage: raw.stream_usage === undefined ? (known?.streamUsage ?? true) : raw.stream_usage === true,
      seedField: (raw.seed_field as ProviderSpec['seedField'] | undefined) ?? known?.seedField ?? 'seed',
      discover: raw.discover === undefined ? true : raw.discover === true,
      keyMissing: raw.api_key_env !== undefined && !config.providerSecrets[raw.api_key_env as string],
      agentsApi: known?.agentsApi ?? id === 'mistral',
    });
  }

  const models: ModelSpec[] = [];
  if (file.models !== undefined && !isRecord(file.models))
    throw new InvalidRegistryError('models must be an object keyed by public model id');
  for (const [id, raw] of Object.entries((file.models as Record<string, unknown>) ?? {})) {
    const path = `models["${id}"]`;
    if (!/^[\w.:@/-]{1,200}$/.test(id))
      throw new InvalidRegistryError(`${path}: a model id is letters, digits and . : @ / _ -`);
    if (!isRecord(raw)) throw new InvalidRegistryError(`${path} must be an object`);
    const provider = text(`${path}.provider`, raw.provider, true)!;
    if (
      !providers.has(provider) &&
      !builtInProviders.includes(provider) &&
      !isRecord((file.providers as Record<string, unknown>)?.[provider])
    ) {
      throw new InvalidRegistryError(`${path}.provider: no provider "${provider}" is declared`);
    }
    const prices = raw.prices;
    if (prices !== undefined && !isRecord(prices))
      throw new InvalidRegistryError(`${path}.prices must be {"input": n, "output": n} per million tokens`);
    const capabilities = raw.capabilities;
    if (
      capabilities !== undefined &&
      (!Array.isArray(capabilities) || capabilities.some((c) => typeof c !== 'string'))
    ) {
      throw new InvalidRegistryError(`${path}.capabilities must be an array of strings`);
    }
    const contextWindow = positive(`${path}.context_window`, raw.context_window);
    models.push({
      id,
      provider,
      upstream: text(`${path}.upstream`, raw.upstream) ?? id.slice(id.indexOf('/') + 1),
      contextWindow: contextWindow ? Math.floor(contextWindow) : undefined,
      prices: prices && {
        input: positive(`${path}.prices.input`, prices.input) ?? 0,
        output: positive(`${path}.prices.output`, prices.output) ?? 0,
        currency: text(`${path}.prices.currency`, prices.currency) ?? 'USD',
      },
      capabilities: capabilities as string[] | undefined,
    });
  }
  // A provider whose models the config lists is not discovered (unless it says so).
  for (const model of models) {
    const spec = providers.get(model.provider);
    const raw = isRecord(file.providers) ? file.providers[model.provider] : undefined;
    if (spec && !(isRecord(raw) && raw.discover === true)) spec.discover = false;
  }
  return { providers: [...providers.values()], models };
}
