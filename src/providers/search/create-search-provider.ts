import { InvalidConfigError, type Config } from '../../config.ts';
import { BraveSearch } from './brave.ts';
import type { SearchProvider } from './search-provider.ts';
import { SearxngSearch } from './searxng.ts';
import { SerperSearch } from './serper.ts';
import { TavilySearch } from './tavily.ts';
import { parseAllowlist, metadataReason } from '../web/address-guard.ts';
import { outboundPolicy } from '../web/connect-guard.ts';

type SearchSettings = Pick<
  Config,
  | 'searchProvider'
  | 'searxngUrl'
  | 'braveSearchApiKey'
  | 'braveSearchBaseUrl'
  | 'tavilyApiKey'
  | 'tavilyBaseUrl'
  | 'serperApiKey'
  | 'serperBaseUrl'
  | 'searchPrice'
  | 'searchTimeoutMs'
  | 'fetchAllowlist'
  | 'dnsServers'
>;

/**
 * The web search engine the configuration names (CAUSERIE_SEARCH_PROVIDER), else the first one
 * configured in the order searxng, brave, tavily, serper; undefined when none is. Naming an engine
 * whose URL or key is missing is a configuration error.
 */
export function createSearchProvider(config: SearchSettings): SearchProvider | undefined {
  const common = {
    timeoutMs: config.searchTimeoutMs,
    costMicros: Math.round(config.searchPrice * 1_000_000),
    outbound: outboundPolicy(config),
  };
  const builders = {
    searxng: () => (config.searxngUrl ? new SearxngSearch({ ...common, baseUrl: config.searxngUrl }) : undefined),
    brave: () =>
      config.braveSearchApiKey
        ? new BraveSearch({ ...common, baseUrl: config.braveSearchBaseUrl, apiKey: config.braveSearchApiKey })
        : undefined,
    tavily: () =>
      config.tavilyApiKey
        ? new TavilySearch({ ...common, baseUrl: config.tavilyBaseUrl, apiKey: config.tavilyApiKey })
        : undefined,
    serper: () =>
      config.serperApiKey
        ? new SerperSearch({ ...common, baseUrl: config.serperBaseUrl, apiKey: config.serperApiKey })
        : undefined,
  };
  const needs = {
    searxng: 'CAUSERIE_SEARXNG_URL',
    brave: 'BRAVE_SEARCH_API_KEY',
    tavily: 'TAVILY_API_KEY',
    serper: 'SERPER_API_KEY',
  };
  if (config.searchProvider) {
    const provider = builders[config.searchProvider]();
    if (!provider)
      throw new InvalidConfigError(
        `CAUSERIE_SEARCH_PROVIDER is ${config.searchProvider} but ${needs[config.searchProvider]} is not set`,
      );
    return checked(provider, config);
  }
  for (const build of Object.values(builders)) {
    const provider = build();
    if (provider) return checked(provider, config);
  }
  return undefined;
}

const baseUrls = {
  searxng: ['CAUSERIE_SEARXNG_URL', 'searxngUrl'],
  brave: ['BRAVE_SEARCH_BASE_URL', 'braveSearchBaseUrl'],
  tavily: ['TAVILY_BASE_URL', 'tavilyBaseUrl'],
  serper: ['SERPER_BASE_URL', 'serperBaseUrl'],
} as const;

/** An engine written at a link-local or metadata address stops the start, as a model provider's does. */
function checked(provider: SearchProvider, config: SearchSettings): SearchProvider {
  const [variable, key] = baseUrls[provider.id as keyof typeof baseUrls];
  const url = config[key];
  const reason = url ? metadataReason(url, parseAllowlist(config.fetchAllowlist)) : undefined;
  if (reason)
    throw new InvalidConfigError(
      `${variable}: ${url} is ${reason}; list it in CAUSERIE_FETCH_ALLOWLIST if that is meant`,
    );
  return provider;
}
