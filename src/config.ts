import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { type ConfigFile, registryProblem } from './config-file.ts';
import { environmentProviders } from './domain/models/models.config.ts';

/** One configuration field: where it comes from, its default, its rule, what it is for. */
interface Field<T> {
  env: string;
  description: string;
  default: T | undefined;
  parse: (raw: string) => T;
  secret?: boolean;
  /** Read from the environment only: the config file may not hold it (provider keys). */
  envOnly?: boolean;
}

class ConfigError extends Error {}

const text = (raw: string) => raw;
/** The entries of a comma-separated setting, trimmed, empty ones dropped. */
const commaList = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
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
const oneOf =
  <T extends string>(...values: T[]) =>
  (raw: string) => {
    if (!values.includes(raw as T)) throw new ConfigError(`must be one of ${values.join(', ')}`);
    return raw as T;
  };
const url =
  (...protocols: string[]) =>
  (raw: string) => {
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
    description:
      'redis:// URL: limits and quotas are then shared by every node through Redis, and revocations reach every node through its pub/sub.',
    default: undefined,
    parse: url('redis:', 'rediss:'),
    secret: true,
  },
  redisPrefix: {
    env: 'CAUSERIE_REDIS_PREFIX',
    description:
      'Prefix of every Redis key (and pub/sub channel) Causerie uses, so several deployments (or tests) can share one Redis.',
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
  logFormat: {
    env: 'CAUSERIE_LOG_FORMAT',
    description:
      'Log line format: json (one object per line), pretty (human-readable), or auto: pretty when stdout is a terminal, json otherwise.',
    default: 'auto',
    parse: oneOf('auto', 'json', 'pretty'),
  },
  adminUsername: {
    env: 'CAUSERIE_ADMIN_USERNAME',
    description: 'Username of the admin account created on first start.',
    default: 'admin',
    parse: text,
  },
  adminPassword: {
    env: 'CAUSERIE_ADMIN_PASSWORD',
    description:
      'Password of the admin account created on first start (at least 8 characters; generated and printed once when unset).',
    default: undefined,
    // Checked here, with every other setting, before anything is opened or created.
    parse: (raw: string) => {
      if (raw.length < 8) throw new ConfigError('must be at least 8 characters');
      return raw;
    },
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
    description:
      'Secret signing OAuth access tokens (at least 32 characters); generated into the data folder when unset. Set it when several nodes share a database.',
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
  requestTimeoutMs: {
    env: 'CAUSERIE_REQUEST_TIMEOUT_MS',
    description:
      'Milliseconds a client gets to send a whole request (headers and body) before it is answered 408 and disconnected; answers, streams included, are not limited by it.',
    default: 30_000,
    parse: integer(100, 600_000),
  },
  maxConnections: {
    env: 'CAUSERIE_MAX_CONNECTIONS',
    description: 'Open connections this process accepts at once; further ones are closed at once (0: no cap).',
    default: 20_000,
    parse: integer(0, 1_000_000),
  },
  trustProxy: {
    env: 'CAUSERIE_TRUST_PROXY',
    description:
      "Comma-separated addresses and CIDR ranges of the reverse proxies in front (e.g. 127.0.0.1,10.0.0.0/8): a request from one of them is taken to come from the client its X-Forwarded-For names (per-address throttles, logs); unset: every request's address is its connection's.",
    default: undefined,
    parse: (raw: string) => {
      for (const entry of commaList(raw)) {
        const [address, bits, extra] = entry.split('/');
        const ip = isIP(address!);
        const badBits = bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > (ip === 6 ? 128 : 32));
        if (!ip || extra !== undefined || badBits)
          throw new ConfigError(`has an entry that is neither an address nor a CIDR range: ${entry}`);
      }
      return commaList(raw).join(',');
    },
  },
  metricsToken: {
    env: 'CAUSERIE_METRICS_TOKEN',
    description:
      'When set, GET /metrics answers only requests with Authorization: Bearer <this token> (unset: open, so protect it at the proxy).',
    default: undefined,
    parse: (raw: string) => {
      if (raw.length < 16) throw new ConfigError('must be at least 16 characters');
      return raw;
    },
    secret: true,
  },
  maxKeysPerUser: {
    env: 'CAUSERIE_MAX_KEYS_PER_USER',
    description: 'Live (unrevoked, unexpired) API keys one user may hold; creating another answers 409.',
    default: 100,
    parse: integer(1, 100_000),
  },
  writesPerMinute: {
    env: 'CAUSERIE_WRITES_PER_MINUTE',
    description:
      'Writes that call no model (new conversations, added messages) one user may make a minute; more answer 429.',
    default: 120,
    parse: integer(1, 1_000_000),
  },
  writeCharsPerDay: {
    env: 'CAUSERIE_WRITE_CHARS_PER_DAY',
    description: 'Characters one user may store a day through writes that call no model; more answer 429.',
    default: 20_000_000,
    parse: integer(1000, 1_000_000_000_000),
  },
  signupLimit: {
    env: 'CAUSERIE_SIGNUP_LIMIT',
    description:
      'Open sign-ups (POST /users without admin credentials) allowed per client address per hour, successful or not; more answer 429.',
    default: 20,
    parse: integer(1, 1_000_000),
  },
  loginFailureLimit: {
    env: 'CAUSERIE_LOGIN_FAILURE_LIMIT',
    description: 'Wrong passwords allowed per username and client address in 15 minutes before sign-ins answer 429.',
    default: 10,
    parse: integer(1, 10_000),
  },
  loginAddressFailureLimit: {
    env: 'CAUSERIE_LOGIN_ADDRESS_FAILURE_LIMIT',
    description:
      'Wrong passwords allowed per client address in 15 minutes, whatever the usernames, before sign-ins from it answer 429; likewise unknown API keys and forged access tokens before its bearer credentials do.',
    default: 50,
    parse: integer(1, 1_000_000),
  },
  sseHeartbeatMs: {
    env: 'CAUSERIE_SSE_HEARTBEAT_MS',
    description: 'Milliseconds of silence in a Server-Sent Events stream before a keep-alive comment is sent.',
    default: 15_000,
    parse: integer(100, 300_000),
  },
  maxAnswerSeconds: {
    env: 'CAUSERIE_MAX_ANSWER_SECONDS',
    description: 'Longest an answer may run, in seconds; a longer one is stopped and kept as cancelled.',
    default: 900,
    parse: integer(1, 86_400),
  },
  streamResumeSeconds: {
    env: 'CAUSERIE_STREAM_RESUME_SECONDS',
    description:
      'Seconds a streamed answer stays resumable (Last-Event-ID) after it ended; while it runs it always is. 0 turns resumable streams off (no event ids, no event log).',
    default: 300,
    parse: integer(0, 86_400),
  },
  streamResumeGraceSeconds: {
    env: 'CAUSERIE_STREAM_RESUME_GRACE_SECONDS',
    description:
      'Seconds an answer goes on after its client disconnected, for the client to resume it; 0 stops the model at once.',
    default: 0,
    parse: integer(0, 3600),
  },
  streamLivenessMs: {
    env: 'CAUSERIE_STREAM_LIVENESS_MS',
    description:
      'How long the process generating an answer may go silent before a resumed stream takes it for dead (noticed within twice this; the stream then ends with the stored partial answer and an error).',
    default: 3000,
    parse: integer(300, 60_000),
  },
  publicTokenTtlSeconds: {
    env: 'CAUSERIE_PUBLIC_TOKEN_TTL_SECONDS',
    description: "Lifetime of a public conversation's client token (the public-agents dialect), in seconds.",
    default: 3600,
    parse: integer(60, 7 * 86_400),
  },
  publicVisitorRequestsPerMinute: {
    env: 'CAUSERIE_PUBLIC_VISITOR_REQUESTS_PER_MINUTE',
    description: 'Default messages and token requests per minute per visitor of a public key that sets none.',
    default: 20,
    parse: integer(1, 100_000),
  },
  publicVisitorTokensPerDay: {
    env: 'CAUSERIE_PUBLIC_VISITOR_TOKENS_PER_DAY',
    description: 'Default model tokens per UTC day per visitor of a public key that sets none.',
    default: 100_000,
    parse: integer(1, 1_000_000_000),
  },
  publicMessagesPerConversation: {
    env: 'CAUSERIE_PUBLIC_MESSAGES_PER_CONVERSATION',
    description:
      'Default number of visitor messages one public conversation may hold, for a public key that sets none.',
    default: 100,
    parse: integer(1, 100_000),
  },
  publicBurstLimit: {
    env: 'CAUSERIE_PUBLIC_BURST_LIMIT',
    description: 'Uses of one client token within 10 seconds beyond which it is revoked as abuse.',
    default: 30,
    parse: integer(2, 100_000),
  },
  authCacheSeconds: {
    env: 'CAUSERIE_AUTH_CACHE_SECONDS',
    description:
      'Seconds a checked API key or access token is remembered in each process (revocations reach every process at once regardless); 0: no cache.',
    default: 30,
    parse: integer(0, 3600),
  },
  authCacheSize: {
    env: 'CAUSERIE_AUTH_CACHE_SIZE',
    description:
      'API keys and access tokens remembered at most per process (the least recently used go first); 0: no cache.',
    default: 10_000,
    parse: integer(0, 1_000_000),
  },
  shutdownGraceSeconds: {
    env: 'CAUSERIE_SHUTDOWN_GRACE',
    description:
      'Seconds requests and streams running at SIGTERM get to finish; answers still running then are stopped and kept as they stand, and the process exits 0.',
    default: 30,
    parse: integer(0, 3600),
  },
  shutdownDelayMs: {
    env: 'CAUSERIE_SHUTDOWN_DELAY_MS',
    description:
      'Milliseconds after SIGTERM during which /readyz answers 503 but new connections are still served (with Connection: close), so a load balancer can take the node out before it stops listening.',
    default: 0,
    parse: integer(0, 600_000),
  },
  defaultModel: {
    env: 'CAUSERIE_DEFAULT_MODEL',
    description:
      'Model id used by conversations that name none (chats of the chats dialect, conversations of the chat-service dialect); default: the first available chat model.',
    default: undefined,
    parse: text,
  },
  streamStaleSeconds: {
    env: 'CAUSERIE_STREAM_STALE_SECONDS',
    description:
      'Seconds after which a reply no process has written is considered abandoned (its node died): its conversation accepts new completions and, in cluster mode, the reply is marked error.',
    default: 30,
    parse: integer(1, 3600),
  },
  embeddingModel: {
    env: 'CAUSERIE_EMBEDDING_MODEL',
    description:
      'Model id (of the model registry) that embeds messages for semantic search; unset: search is keyword-only.',
    default: undefined,
    parse: text,
  },
  searchIndexBatch: {
    env: 'CAUSERIE_SEARCH_INDEX_BATCH',
    description: 'Texts sent to the embedding model per call by the background indexer.',
    default: 32,
    parse: integer(1, 512),
  },
  searchIndexPollMs: {
    env: 'CAUSERIE_SEARCH_INDEX_POLL_MS',
    description:
      'Milliseconds between two looks for queued indexing work (work queued by the same process starts at once).',
    default: 1000,
    parse: integer(10, 600_000),
  },
  configFile: {
    env: 'CAUSERIE_CONFIG',
    description: 'Optional JSON file with the same settings (keys are the variable names) and the model registry.',
    default: undefined,
    parse: text,
  },
  openaiApiKey: {
    env: 'OPENAI_API_KEY',
    description:
      'Key for OpenAI (or the server OPENAI_BASE_URL names); setting it registers provider "openai". Environment only.',
    default: undefined,
    parse: text,
    secret: true,
    envOnly: true,
  },
  openaiBaseUrl: {
    env: 'OPENAI_BASE_URL',
    description:
      'Base URL of the "openai" provider (any OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1); setting it alone registers the provider without a key.',
    default: undefined,
    parse: url('http:', 'https:'),
  },
  mistralApiKey: {
    env: 'MISTRAL_API_KEY',
    description: 'Key for Mistral AI; setting it registers provider "mistral". Environment only.',
    default: undefined,
    parse: text,
    secret: true,
    envOnly: true,
  },
  mistralBaseUrl: {
    env: 'MISTRAL_BASE_URL',
    description: 'Base URL of the "mistral" provider.',
    default: 'https://api.mistral.ai/v1',
    parse: url('http:', 'https:'),
  },
  ollamaBaseUrl: {
    env: 'OLLAMA_BASE_URL',
    description: 'Ollama server (e.g. http://127.0.0.1:11434); setting it registers provider "ollama".',
    default: undefined,
    parse: url('http:', 'https:'),
  },
  mockProvider: {
    env: 'CAUSERIE_MOCK_PROVIDER',
    description: 'Registers the scripted "mock" provider (model mock/echo) for client tests; see docs/models.md.',
    default: false,
    parse: boolean,
  },
  modelsDir: {
    env: 'CAUSERIE_MODELS_DIR',
    description: 'Folder of local GGUF models (default: the "models" folder inside CAUSERIE_DATA_DIR).',
    default: '',
    parse: text,
  },
  autoPull: {
    env: 'CAUSERIE_AUTO_PULL',
    description:
      'On a start with no provider configured and no local model present, download the default local model in the background.',
    default: true,
    parse: boolean,
  },
  autoPullUri: {
    env: 'CAUSERIE_AUTO_PULL_URI',
    description:
      'What that first-start download fetches (hf:<user>/<repo>/<file>.gguf or an http(s) URL); the default local model by default.',
    default: 'hf:Qwen/Qwen2.5-0.5B-Instruct-GGUF/qwen2.5-0.5b-instruct-q4_k_m.gguf',
    parse: text,
  },
  localThreads: {
    env: 'CAUSERIE_LOCAL_THREADS',
    description: 'CPU threads a local model generates with.',
    default: 1,
    parse: integer(1, 256),
  },
  modelsRefreshSeconds: {
    env: 'CAUSERIE_MODELS_REFRESH',
    description:
      "Seconds between refreshes of each provider's model list (GET /v1/models upstream); 0 discovers once at start.",
    default: 300,
    parse: integer(0, 86_400),
  },
  filesDir: {
    env: 'CAUSERIE_FILES_DIR',
    description:
      'Folder of uploaded files, named by the SHA-256 of their content (default: the "files" folder inside CAUSERIE_DATA_DIR; shared by every node in cluster mode).',
    default: '',
    parse: text,
  },
  uploadMaxBytes: {
    env: 'CAUSERIE_UPLOAD_MAX_BYTES',
    description: 'Largest uploaded file, in bytes (larger uploads get 413).',
    default: 10 * 1_048_576,
    parse: integer(1024, 1024 * 1_048_576),
  },
  pdfMaxPages: {
    env: 'CAUSERIE_PDF_MAX_PAGES',
    description:
      'Pages of an uploaded PDF whose text is read; the text of later pages is left out (the file says so in metadata.truncated).',
    default: 2000,
    parse: integer(1, 1_000_000),
  },
  pdfTimeoutMs: {
    env: 'CAUSERIE_PDF_TIMEOUT_MS',
    description:
      'Milliseconds a PDF may take to read: pages are read until three quarters of it (the rest is left out), and a reader still busy at the end is stopped (422).',
    default: 30_000,
    parse: integer(100, 3_600_000),
  },
  pdfMaxHeapMb: {
    env: 'CAUSERIE_PDF_MAX_HEAP_MB',
    description: 'Memory (MB of heap) the thread reading one PDF may use; a PDF needing more is refused (422).',
    default: 512,
    parse: integer(32, 16_384),
  },
  chunkTokens: {
    env: 'CAUSERIE_CHUNK_TOKENS',
    description: 'Target size, in estimated tokens, of the chunks a document is cut into for use as context.',
    default: 400,
    parse: integer(50, 8192),
  },
  chunkOverlapTokens: {
    env: 'CAUSERIE_CHUNK_OVERLAP_TOKENS',
    description: 'Tokens at the end of a chunk repeated at the start of the next.',
    default: 50,
    parse: integer(0, 4096),
  },
  documentContextTokens: {
    env: 'CAUSERIE_DOCUMENT_CONTEXT_TOKENS',
    description:
      'Tokens of document text given to a model whose context window is unknown (with a known window, what fits beside the history).',
    default: 3000,
    parse: integer(100, 1_000_000),
  },
  providerConnectTimeoutMs: {
    env: 'CAUSERIE_PROVIDER_CONNECT_TIMEOUT_MS',
    description: 'Milliseconds to open a connection to a provider.',
    default: 5_000,
    parse: integer(100, 600_000),
  },
  providerFirstByteTimeoutMs: {
    env: 'CAUSERIE_PROVIDER_FIRST_BYTE_TIMEOUT_MS',
    description: "Milliseconds a provider may take to start its answer (a non-streamed answer's whole generation).",
    default: 120_000,
    parse: integer(100, 3_600_000),
  },
  providerIdleTimeoutMs: {
    env: 'CAUSERIE_PROVIDER_IDLE_TIMEOUT_MS',
    description: 'Milliseconds of silence allowed between two chunks of a streamed answer.',
    default: 60_000,
    parse: integer(100, 3_600_000),
  },
  providerRetries: {
    env: 'CAUSERIE_PROVIDER_RETRIES',
    description:
      'Retries (with backoff) of a provider call that failed before its first byte (connection error, 502, 503, 504).',
    default: 2,
    parse: integer(0, 10),
  },
  providerConnectionWaitMs: {
    env: 'CAUSERIE_PROVIDER_CONNECTION_WAIT_MS',
    description:
      'Milliseconds a request waits for a free connection to a provider whose max_connections (models config) are all busy, before a 503 upstream_busy.',
    default: 10_000,
    parse: integer(0, 600_000),
  },
  searchProvider: {
    env: 'CAUSERIE_SEARCH_PROVIDER',
    description:
      'Web search engine: searxng, brave, tavily or serper (default: the first of them configured, in that order).',
    default: undefined,
    parse: oneOf('searxng', 'brave', 'tavily', 'serper'),
  },
  searxngUrl: {
    env: 'CAUSERIE_SEARXNG_URL',
    description:
      'SearXNG (or searx) instance answering GET /search?format=json, e.g. http://127.0.0.1:8888; it may be private (link-local and metadata addresses are refused).',
    default: undefined,
    parse: url('http:', 'https:'),
  },
  braveSearchApiKey: {
    env: 'BRAVE_SEARCH_API_KEY',
    description: 'Key for the Brave Search API; setting it enables web search through Brave. Environment only.',
    default: undefined,
    parse: text,
    secret: true,
    envOnly: true,
  },
  braveSearchBaseUrl: {
    env: 'BRAVE_SEARCH_BASE_URL',
    description: 'Base URL of the Brave Search API.',
    default: 'https://api.search.brave.com',
    parse: url('http:', 'https:'),
  },
  tavilyApiKey: {
    env: 'TAVILY_API_KEY',
    description: 'Key for Tavily; setting it enables web search through Tavily. Environment only.',
    default: undefined,
    parse: text,
    secret: true,
    envOnly: true,
  },
  tavilyBaseUrl: {
    env: 'TAVILY_BASE_URL',
    description: 'Base URL of the Tavily API.',
    default: 'https://api.tavily.com',
    parse: url('http:', 'https:'),
  },
  serperApiKey: {
    env: 'SERPER_API_KEY',
    description: 'Key for Serper; setting it enables web search through Serper. Environment only.',
    default: undefined,
    parse: text,
    secret: true,
    envOnly: true,
  },
  serperBaseUrl: {
    env: 'SERPER_BASE_URL',
    description: 'Base URL of the Serper API.',
    default: 'https://google.serper.dev',
    parse: url('http:', 'https:'),
  },
  searchPrice: {
    env: 'CAUSERIE_SEARCH_PRICE',
    description:
      'Price of one search with the configured engine, in the currency of the model prices (recorded in usage, counted in budgets); 0: free.',
    default: 0,
    parse: (raw: string) => {
      const value = Number(raw);
      if (!Number.isFinite(value) || value < 0) throw new ConfigError('must be a number of at least 0');
      return value;
    },
  },
  searchTimeoutMs: {
    env: 'CAUSERIE_SEARCH_TIMEOUT_MS',
    description: 'Milliseconds a search engine has to answer.',
    default: 10_000,
    parse: integer(100, 120_000),
  },
  searchResults: {
    env: 'CAUSERIE_SEARCH_RESULTS',
    description: 'Search results listed to the model as numbered sources.',
    default: 5,
    parse: integer(1, 20),
  },
  webPages: {
    env: 'CAUSERIE_WEB_PAGES',
    description: 'Top results whose pages are fetched and read (in parallel); 0 uses the snippets only.',
    default: 3,
    parse: integer(0, 10),
  },
  webPageTimeoutMs: {
    env: 'CAUSERIE_WEB_PAGE_TIMEOUT_MS',
    description: 'Milliseconds to fetch one page (redirects and body included); a slower page is cut or skipped.',
    default: 5_000,
    parse: integer(100, 120_000),
  },
  webPageMaxBytes: {
    env: 'CAUSERIE_WEB_PAGE_MAX_BYTES',
    description: 'Bytes read at most of one page; the rest is not downloaded.',
    default: 1_048_576,
    parse: integer(1024, 50 * 1_048_576),
  },
  fetchAllowPrivate: {
    env: 'CAUSERIE_FETCH_ALLOW_PRIVATE',
    description:
      'Let web search fetch pages on loopback, private and link-local addresses (intranet deployments, tests). Off: such pages are refused.',
    default: false,
    parse: boolean,
  },
  fetchAllowlist: {
    env: 'CAUSERIE_FETCH_ALLOWLIST',
    description:
      'Comma-separated addresses, CIDR ranges and host names web search may fetch even though private, and model providers, search engines and model downloads may connect to though link-local or cloud metadata (e.g. 10.1.0.0/16,wiki.intranet).',
    default: undefined,
    parse: (raw: string) => {
      for (const entry of commaList(raw)) {
        const [address, bits, extra] = entry.split('/');
        const ip = isIP(address!.replace(/^\[|\]$/g, ''));
        const maxBits = ip === 6 ? 128 : 32;
        const badBits = bits !== undefined && (!ip || !/^\d{1,3}$/.test(bits) || Number(bits) > maxBits);
        if (extra !== undefined || badBits || (!ip && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(address!))) {
          throw new ConfigError(`has an entry that is neither an address, a CIDR range nor a host name: ${entry}`);
        }
      }
      return raw;
    },
  },
  dnsServers: {
    env: 'CAUSERIE_DNS_SERVERS',
    description:
      "Comma-separated DNS servers (address, address:port or [IPv6]:port) that Causerie's outgoing connections resolve names with; unset: the system's resolver. Set, names are asked of these servers only (the hosts file and localhost are not read). Either way each address is checked before connecting.",
    default: undefined,
    parse: (raw: string) => {
      for (const entry of commaList(raw)) {
        const match = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(entry) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(entry);
        const address = match ? match[1]! : entry;
        const port = match?.[2] === undefined ? undefined : Number(match[2]);
        if (!isIP(address) || (port !== undefined && (port < 1 || port > 65_535)))
          throw new ConfigError(
            `has an entry that is not an IP address with an optional port (1-65535; an IPv6 address with a port in brackets, [::1]:53): ${entry}`,
          );
      }
      return raw;
    },
  },
  fetchMaxRedirects: {
    env: 'CAUSERIE_FETCH_MAX_REDIRECTS',
    description: 'Redirects followed at most when fetching a page (each target is checked again).',
    default: 3,
    parse: integer(0, 10),
  },
} satisfies Record<string, Field<unknown>>;

type Fields = typeof fields;
type ValueOf<F> = F extends Field<infer T> ? T : never;
type Settings = {
  [K in keyof Fields]: Fields[K]['default'] extends undefined ? ValueOf<Fields[K]> | undefined : ValueOf<Fields[K]>;
};

export type Config = Readonly<
  Settings & {
    mode: 'embedded' | 'cluster';
    file: ConfigFile;
    /** Keys of the providers the config file declares, read from the variables their `api_key_env` names. */
    providerSecrets: Readonly<Record<string, string>>;
  }
>;

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
    if (typeof file !== 'object' || file === null || Array.isArray(file))
      throw new InvalidConfigError(`${fields.configFile.env} (${filePath}): the file must hold a JSON object`);
  }
  const settings: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(fields) as [string, Field<unknown>][]) {
    const fromFile = file[field.env];
    if (field.envOnly && fromFile !== undefined) {
      throw new InvalidConfigError(`${field.env} may only come from the environment; remove it from ${filePath}`);
    }
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
  if (!settings.modelsDir) settings.modelsDir = join(String(settings.dataDir), 'models');
  if (!settings.filesDir) settings.filesDir = join(String(settings.dataDir), 'files');
  const mode = settings.databaseUrl ? 'cluster' : 'embedded';
  const problem = registryProblem(
    file,
    environmentProviders(settings as Settings).map((spec) => spec.id),
  );
  if (problem) throw new InvalidConfigError(`${fields.configFile.env} (${filePath}): ${problem}`);
  return Object.freeze({
    ...(settings as Settings),
    mode,
    file: file as ConfigFile,
    providerSecrets: providerSecretsFrom(file as ConfigFile, env),
  });
}

/**
 * Provider keys stay out of the config file: a provider there names the variable holding its key
 * (`"api_key_env": "GROQ_API_KEY"`), read here so nothing below main.ts touches process.env.
 */
function providerSecretsFrom(file: ConfigFile, env: NodeJS.ProcessEnv): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const spec of Object.values(file.providers ?? {})) {
    const variable = spec.api_key_env;
    if (variable && env[variable]) secrets[variable] = env[variable];
  }
  return Object.freeze(secrets);
}
