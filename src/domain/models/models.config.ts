import type { Config } from '../../config.ts';

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
  /** Most requests in flight to it at once; unset: no cap. */
  maxConnections?: number;
  /** Offer HTTP/2 over TLS (default true; false keeps HTTP/1.1). */
  http2?: boolean;
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

/** Where a provider that is not registered would come from, for "not configured" messages. */
export const howToEnable: Record<string, string> = {
  openai: 'set OPENAI_API_KEY (and OPENAI_BASE_URL for another OpenAI-compatible server)',
  mistral: 'set MISTRAL_API_KEY',
  ollama: 'set OLLAMA_BASE_URL',
  mock: 'set CAUSERIE_MOCK_PROVIDER=true',
  local: 'run `npm run models:pull`',
};

/** Ollama serves the OpenAI API under /v1; accept its bare address too. */
const ollamaV1 = (url: string) => (/\/v1$/.test(url) ? url : `${url}/v1`);

/** Providers the environment enables with no other step. */
export function environmentProviders(
  config: Pick<Config, 'openaiApiKey' | 'openaiBaseUrl' | 'mistralApiKey' | 'mistralBaseUrl' | 'ollamaBaseUrl'>,
): ProviderSpec[] {
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
 * file's "providers" (which may also override a built-in one) and "models". The file was validated
 * when the configuration was loaded.
 */
export function registrySpecs(config: Config): { providers: ProviderSpec[]; models: ModelSpec[] } {
  const providers = new Map(environmentProviders(config).map((spec) => [spec.id, spec]));
  const file = config.file;
  for (const [id, entry] of Object.entries(file.providers ?? {})) {
    const known = providers.get(id);
    const keyVariable = entry.api_key_env ?? known?.keyVariable;
    providers.set(id, {
      id,
      kind: 'openai-compatible',
      baseUrl: (entry.base_url ?? known!.baseUrl).replace(/\/+$/, ''),
      apiKey: entry.api_key_env !== undefined ? config.providerSecrets[entry.api_key_env] : known?.apiKey,
      keyVariable,
      headers: entry.headers,
      streamUsage: entry.stream_usage ?? known?.streamUsage ?? true,
      seedField: entry.seed_field ?? known?.seedField ?? 'seed',
      discover: entry.discover ?? true,
      keyMissing: entry.api_key_env !== undefined && !config.providerSecrets[entry.api_key_env],
      agentsApi: known?.agentsApi ?? id === 'mistral',
      maxConnections: entry.max_connections ?? known?.maxConnections,
      http2: entry.http2 ?? known?.http2,
    });
  }

  const models: ModelSpec[] = Object.entries(file.models ?? {}).map(([id, entry]) => ({
    id,
    provider: entry.provider,
    upstream: entry.upstream ?? id.slice(id.indexOf('/') + 1),
    contextWindow: entry.context_window ? Math.floor(entry.context_window) : undefined,
    prices: entry.prices && {
      input: entry.prices.input ?? 0,
      output: entry.prices.output ?? 0,
      currency: entry.prices.currency ?? 'USD',
    },
    capabilities: entry.capabilities,
  }));
  // A provider whose models the config lists is not discovered (unless it says so).
  for (const model of models) {
    const spec = providers.get(model.provider);
    if (spec && file.providers?.[model.provider]?.discover !== true) spec.discover = false;
  }
  return { providers: [...providers.values()], models };
}
