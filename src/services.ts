import type { Config } from './config.ts';
import { type Logger, silentLogger, warningsOf } from './http/logger.ts';
import type { Clock } from './domain/clock.ts';
import { ApiKeysService } from './domain/api-keys/api-keys.service.ts';
import { ApiKeysStore } from './domain/api-keys/api-keys.store.ts';
import { AuthService } from './domain/auth/auth.service.ts';
import { LoginThrottle } from './domain/auth/login-throttle.ts';
import { RefreshTokensStore } from './domain/auth/refresh-tokens.store.ts';
import { UsersService } from './domain/users/users.service.ts';
import { UsersStore } from './domain/users/users.store.ts';
import { SignupThrottle } from './domain/users/signup-throttle.ts';
import { ModelsService } from './domain/models/models.service.ts';
import { RemovedModelsStore } from './domain/models/models.store.ts';
import { registrySpecs, type ModelSpec, type ProviderSpec } from './domain/models/models.config.ts';
import { createMockProvider } from './providers/mock/mock-provider.ts';
import { OpenAiCompatibleProvider } from './providers/openai-compatible/openai-compatible-provider.ts';
import type { Provider } from './providers/provider.ts';
import { createLocalProvider, listLocalModelFiles } from './providers/local/local-provider.ts';
import { CompletionsService } from './domain/completions/completions.service.ts';
import { fromProvider } from './domain/completions/provider-failures.ts';
import { RunningAnswers } from './domain/completions/running-answers.ts';
import { ConversationCompletions } from './domain/conversations/conversation-completions.ts';
import { ConversationsService } from './domain/conversations/conversations.service.ts';
import { ConversationsStore } from './domain/conversations/conversations.store.ts';
import type { ContextEnricher } from './domain/conversations/context-enrichers.ts';
import { WriteThrottle } from './domain/conversations/write-throttle.ts';
import { AgentsService } from './domain/agents/agents.service.ts';
import { AgentsStore } from './domain/agents/agents.store.ts';
import { agentEnricher } from './domain/agents/agent-enricher.ts';
import { AgentRuns } from './domain/agents/agent-runs.ts';
import { ProviderAgentSync } from './domain/agents/provider-agents.ts';
import { PublicAgentsStore } from './domain/public-agents/public-agents.store.ts';
import { PublicKeysService } from './domain/public-agents/public-keys.service.ts';
import { PublicConversationsService } from './domain/public-agents/public-conversations.service.ts';
import { VisitorCounters } from './domain/public-agents/visitor-limits.ts';
import { modelCatalogFrom } from './domain/conversations/model-catalog.ts';
import { StreamRecovery } from './domain/conversations/stream-recovery.ts';
import { createLimits } from './domain/limits/create-limits.ts';
import { MemoryLimitCounters } from './stores/kv/memory-limit-counters.ts';
import { RedisLimitCounters } from './stores/kv/redis-limit-counters.ts';
import { openRedis } from './stores/kv/redis.ts';
import type { LimitsService } from './domain/limits/limits.service.ts';
import type { LimitsGate } from './domain/limits/limits.types.ts';
import { PlansService } from './domain/plans/plans.service.ts';
import { PlansStore } from './domain/plans/plans.store.ts';
import { UsageService } from './domain/usage/usage.service.ts';
import { UsageStore } from './domain/usage/usage.store.ts';
import { Bm25Ranker } from './domain/documents/chunk-ranker.ts';
import { DocumentContextEnricher } from './domain/documents/document-context.ts';
import { DocumentsService } from './domain/documents/documents.service.ts';
import { DocumentsStore } from './domain/documents/documents.store.ts';
import { FileStore } from './domain/documents/file-store.ts';
import { PdfExtractor } from './domain/documents/pdf-extractor.ts';
import { PromptsService } from './domain/prompts/prompts.service.ts';
import { PromptsStore } from './domain/prompts/prompts.store.ts';
import { SearchIndexer, type Embedder } from './domain/search/search-indexer.ts';
import { SearchService } from './domain/search/search.service.ts';
import { SearchStore } from './domain/search/search.store.ts';
import { AppError, invalid } from './domain/errors.ts';
import type { SqlStore } from './stores/sql/database.ts';
import { createSearchProvider } from './providers/search/create-search-provider.ts';
import { outboundPolicy, resolverFor, splitServers } from './providers/web/connect-guard.ts';
import { parseAllowlist } from './providers/web/address-guard.ts';
import { SearchRecordsStore } from './domain/web-search/search-records.store.ts';
import { IdempotencyStore } from './domain/idempotency/idempotency.store.ts';
import { IdempotencyKeys } from './domain/idempotency/idempotency-keys.ts';
import { WebSearchEnricher } from './domain/web-search/web-search.enricher.ts';
import { WebSearch } from './domain/web-search/web-search.service.ts';
import { PrincipalCache } from './domain/auth/principal-cache.ts';
import { LocalClusterEvents, RedisClusterEvents, type ClusterEvents } from './stores/kv/cluster-events.ts';
import { AnswerStreams } from './domain/streams/answer-streams.ts';
import type { CancelBus } from './domain/streams/cancel-bus.ts';
import type { EventLog } from './domain/streams/event-log.ts';
import { MemoryCancelBus } from './stores/kv/memory-cancel-bus.ts';
import { MemoryEventLog } from './stores/kv/memory-event-log.ts';
import { RedisCancelBus } from './stores/kv/redis-cancel-bus.ts';
import { RedisEventLog } from './stores/kv/redis-event-log.ts';

/** Every domain service, built once from the stores and the config and passed down explicitly. */
export interface Services {
  config: Config;
  clock: Clock;
  sql: SqlStore;
  users: UsersService;
  apiKeys: ApiKeysService;
  auth: AuthService;
  /** Changes every process must hear at once (revocations, disabled accounts): in process, or Redis pub/sub. */
  events: ClusterEvents;
  /** The answers this process is generating (stopped on revocation, or at the end of a shutdown's grace). */
  running: RunningAnswers;
  /** The model registry: providers, their models, availability. */
  models: ModelsService;
  /** Model calls for every surface: admission, provider stream, usage ledger. */
  completions: CompletionsService;
  /** Conversations (sessions, chats) and their messages. */
  conversations: ConversationsService;
  /** Agents: a model with instructions and settings, owned like a conversation. */
  agents: AgentsService;
  /** Talking to agents: one-off prompts, prompts in sessions, sessions created for an agent. */
  agentRuns: AgentRuns;
  /** Public keys of agents (the public-agents dialect), managed by the agents' owners. */
  publicKeys: PublicKeysService;
  /** Public conversations (the public-agents dialect): client tokens, their messages, visitor limits, abuse. */
  publicConversations: PublicConversationsService;
  /** Completions inside a conversation: history in, reply stored as it streams. */
  conversationCompletions: ConversationCompletions;
  /** Streamed answers recorded so a client can resume them on any node (Last-Event-ID); off when CAUSERIE_STREAM_RESUME_SECONDS is 0. */
  answerStreams: AnswerStreams | undefined;
  /** Idempotency-Key handling for routes that create without completing. */
  idempotency: IdempotencyKeys;
  /** Settles replies a dead process left streaming; start() once at start-up. */
  streamRecovery: StreamRecovery;
  /** Plans (tiers) and their assignment to users. */
  plans: PlansService;
  /** What is left of each limit; key limits. */
  limits: LimitsService;
  /** Admits or refuses every model call (quotas, rate limits, token budgets). */
  limitsGate: LimitsGate;
  /** Usage reports over the ledger. */
  usage: UsageService;
  /** Web search as context for completions (conversations through its enricher, and the OpenAI surface). */
  webSearch: WebSearch;
  /** PDF files attached to sessions (the chat-API dialect's upload), used as context by later completions. */
  documents: DocumentsService;
  /** Prompt templates (the chat-API dialect): users' own and the built-in ones. */
  prompts: PromptsService;
  /** Keyword and semantic search over one's own conversations. */
  search: SearchService;
  /** Keeps the search index in step (enqueue/remove for other modules); start() once at start-up. */
  searchIndexer: SearchIndexer;
  version: string;
  /** Releases every resource the services hold (database pool, provider connections). */
  close(): Promise<void>;
}

export function createServices(options: {
  config: Config;
  sql: SqlStore;
  clock: Clock;
  tokenSecret: string;
  version: string;
  /** The process's logger (Fastify's); silent when not given. */
  logger?: Logger;
}): Services {
  const { config, sql, clock } = options;
  const usersStore = new UsersStore(sql.db);
  // The throttle counts in the limits' counters, which are built from the users service below.
  let signupThrottle: SignupThrottle | undefined;
  const running = new RunningAnswers({ maxAnswerMs: config.maxAnswerSeconds * 1000 });
  // One logger for the process: each module writes through a child that names it. Never a key in
  // these messages: providers are named by id only.
  const log = options.logger ?? silentLogger();
  const warnAs = (module: string) => warningsOf(log, module);
  const eventsWarn = warnAs('cluster-events');
  // Connection trouble is reported once, by the publishing connection's handler.
  const events: ClusterEvents = config.redisUrl
    ? new RedisClusterEvents({
        publisher: openRedis(config.redisUrl, eventsWarn),
        subscriber: openRedis(config.redisUrl),
        prefix: config.redisPrefix,
        warn: eventsWarn,
      })
    : new LocalClusterEvents();
  const principals = new PrincipalCache({
    maxEntries: config.authCacheSize,
    ttlMs: config.authCacheSeconds * 1000,
    clock,
    trusted: () => events.listening(),
  });
  const users = new UsersService({
    store: usersStore,
    clock,
    allowSignup: config.allowSignup,
    signupThrottle: (address) => signupThrottle!.attempt(address),
    onDisabled: (userId) => events.publish({ type: 'user-disabled', userId }),
  });
  const apiKeysStore = new ApiKeysStore(sql.db);
  const apiKeys = new ApiKeysService({
    store: apiKeysStore,
    clock,
    maxKeysPerUser: config.maxKeysPerUser,
    onRevoked: (keyIds) => events.publish({ type: 'keys-revoked', keyIds }),
    onChanged: (keyIds) => events.publish({ type: 'keys-changed', keyIds }),
  });
  const localProvider = createLocalProvider({
    modelsDir: config.modelsDir,
    threads: config.localThreads,
    logger: log.child({ module: 'local' }),
  });
  const models = new ModelsService({
    ...modelProviders(config, [localProvider], warnAs('providers')),
    localProviderId: localProvider.id,
    listLocalFiles: () => listLocalModelFiles(config.modelsDir),
    store: new RemovedModelsStore(sql.db),
    clock,
    warn: warnAs('models'),
  });
  const modelsRefresh =
    config.modelsRefreshSeconds > 0
      ? setInterval(() => void models.refresh(), config.modelsRefreshSeconds * 1000).unref()
      : undefined;
  const conversationsStore = new ConversationsStore(sql.db);
  const modelCatalog = modelCatalogFrom(models, config.defaultModel);
  const searchStore = new SearchStore(sql.db, sql.dialect);
  const searchIndexer = new SearchIndexer({
    store: searchStore,
    embedder: config.embeddingModel ? registryEmbedder(models, config.embeddingModel) : undefined,
    clock,
    warn: warnAs('search-index'),
    batchSize: config.searchIndexBatch,
    pollMs: config.searchIndexPollMs,
    leaseMs: config.streamStaleSeconds * 1000,
    mode: config.mode,
  });
  const plansStore = new PlansStore(sql.db);
  const usageStore = new UsageStore(sql.db);
  const searchRecords = new SearchRecordsStore(sql.db);
  const limits = createLimits({
    counters: config.redisUrl
      ? new RedisLimitCounters(openRedis(config.redisUrl, warnAs('redis')), { ownsConnection: true })
      : new MemoryLimitCounters(),
    redisPrefix: config.redisPrefix,
    defaultPlan: config.defaultPlan,
    clock,
    plansStore,
    apiKeysStore,
    usageStore,
    searchRecords,
    apiKeys,
    users,
  });
  const auth = new AuthService({
    users,
    usersStore,
    apiKeys,
    refreshTokens: new RefreshTokensStore(sql.db),
    clock,
    tokenSecret: options.tokenSecret,
    accessTokenSeconds: config.accessTokenSeconds,
    refreshTokenSeconds: config.refreshTokenSeconds,
    loginThrottle: new LoginThrottle({
      counters: limits.counters,
      clock,
      prefix: config.redisPrefix,
      maxFailures: config.loginFailureLimit,
      maxAddressFailures: config.loginAddressFailureLimit,
    }),
    principals,
    publish: (event) => events.publish(event),
  });
  // Every process applies every event: caches forget, answers whose credential went stop.
  events.subscribe((event) => {
    principals.apply(event);
    if (event.type === 'keys-revoked') running.stopKeys(event.keyIds);
    if (event.type === 'user-disabled') running.stopUser(event.userId);
    if (event.type === 'keys-changed' || event.type === 'plans-changed' || event.type === 'resync')
      limits.resolver.forget();
  });
  const writeThrottle = new WriteThrottle({
    counters: limits.counters,
    clock,
    prefix: config.redisPrefix,
    perMinute: config.writesPerMinute,
    charsPerDay: config.writeCharsPerDay,
  });
  const conversations = new ConversationsService({
    store: conversationsStore,
    users,
    models: modelCatalog,
    clock,
    writeThrottle: (userId, chars) => writeThrottle.write(userId, chars),
    searchIndex: searchIndexer,
  });
  const search = new SearchService({ store: searchStore, indexer: searchIndexer, users, conversations });
  signupThrottle = new SignupThrottle({
    counters: limits.counters,
    clock,
    prefix: config.redisPrefix,
    maxPerWindow: config.signupLimit,
  });
  const plans = new PlansService({
    store: plansStore,
    users,
    usersStore,
    clock,
    onChange: () => events.publish({ type: 'plans-changed' }),
  });
  const usage = new UsageService({ store: usageStore, users, clock, searches: searchRecords });
  const completions = new CompletionsService({
    models,
    limits: limits.gate,
    usage: usageStore,
    clock,
    running,
    warn: warnAs('completions'),
  });
  const leaseMs = config.streamStaleSeconds * 1000;
  // Agents whose model is on Mistral are mirrored by its Agents API; a failure there is only logged.
  const providerAgents = new ProviderAgentSync({ resolve: (model) => models.resolve(model), warn: warnAs('agents') });
  const agents = new AgentsService({
    store: new AgentsStore(sql.db),
    modelExists: (model) => modelCatalog.exists(model),
    clock,
    providerAgents,
  });
  const webSearch = new WebSearch({
    provider: createSearchProvider(config),
    fetchPolicy: {
      allowPrivate: config.fetchAllowPrivate,
      allowlist: parseAllowlist(config.fetchAllowlist),
      maxRedirects: config.fetchMaxRedirects,
      resolver: resolverFor(splitServers(config.dnsServers)),
    },
    pageLimits: { timeoutMs: config.webPageTimeoutMs, maxBytes: config.webPageMaxBytes },
    results: config.searchResults,
    pages: config.webPages,
    contextWindow: (model) => modelCatalog.contextWindow(model),
    tokenCounter: (model) => modelCatalog.tokenCounter(model),
    admission: limits.gate,
    usage: searchRecords,
    clock,
  });
  const documentsStore = new DocumentsStore(sql.db);
  // In this order: the agent's instructions first, then the session's documents, then the web.
  const enrichers: ContextEnricher[] = [
    agentEnricher(agents, providerAgents),
    new DocumentContextEnricher({
      store: documentsStore,
      ranker: new Bm25Ranker(),
      models: modelCatalog,
      unknownWindowTokens: config.documentContextTokens,
    }),
    // An agent that always searches does so unless the request says web_search: false.
    new WebSearchEnricher(webSearch, {
      byDefault: async ({ conversation }) =>
        conversation.agent_id !== null &&
        (await agents.forConversation(conversation.agent_id))?.settings.webSearch === true,
    }),
  ];
  // A key claimed by a request whose node died is free again after one stream lease.
  const idempotency = new IdempotencyKeys({ store: new IdempotencyStore(sql.db), clock, staleMs: leaseMs });
  // Like the limit counters: Redis when a URL is given (any node resumes or cancels an answer
  // another node runs), else in process.
  const streamsWarn = warnAs('streams');
  const streamsRedis = config.redisUrl ? openRedis(config.redisUrl, streamsWarn) : undefined;
  const eventLog: EventLog = streamsRedis
    ? new RedisEventLog(streamsRedis, { prefix: config.redisPrefix, warn: streamsWarn })
    : new MemoryEventLog();
  const cancels: CancelBus = streamsRedis
    ? new RedisCancelBus(streamsRedis, { prefix: config.redisPrefix })
    : new MemoryCancelBus();
  const conversationCompletions = new ConversationCompletions({
    store: conversationsStore,
    conversations,
    completions,
    models: modelCatalog,
    clock,
    timings: { leaseMs },
    enrichers,
    searchIndex: searchIndexer,
    idempotency,
    cancels,
    running,
  });
  const answerStreams = !config.streamResumeSeconds
    ? undefined
    : new AnswerStreams({
        log: eventLog,
        keepMs: config.streamResumeSeconds * 1000,
        maxAnswerMs: config.maxAnswerSeconds * 1000,
        livenessMs: config.streamLivenessMs,
        graceMs: config.streamResumeGraceSeconds * 1000,
        onAbandoned: async (answer) => {
          if (answer.conversationId === undefined || answer.messageId === undefined) return;
          await conversationCompletions.abandon({
            conversationId: answer.conversationId,
            messageId: answer.messageId,
            leaseOwner: answer.leaseOwner,
          });
        },
        warn: streamsWarn,
      });
  const agentRuns = new AgentRuns({
    agents,
    conversations,
    conversationCompletions,
    completions,
    providerAgents,
    defaultModel: () => modelCatalog.defaultModel(),
  });
  const publicStore = new PublicAgentsStore(sql.db);
  const publicKeys = new PublicKeysService({
    store: publicStore,
    apiKeys: apiKeysStore,
    agents,
    clock,
    defaultVisitorLimits: {
      requests_per_minute: config.publicVisitorRequestsPerMinute,
      tokens_per_day: config.publicVisitorTokensPerDay,
      messages_per_conversation: config.publicMessagesPerConversation,
    },
    onChange: () => limits.resolver.forget(),
    onRevoked: (keyIds) => events.publish({ type: 'keys-revoked', keyIds }),
  });
  const publicConversations = new PublicConversationsService({
    store: publicStore,
    apiKeys: apiKeysStore,
    keys: publicKeys,
    agents,
    conversations,
    completions: conversationCompletions,
    models: modelCatalog,
    visitors: new VisitorCounters({ counters: limits.counters, clock, prefix: config.redisPrefix }),
    clock,
    secret: options.tokenSecret,
    tokenTtlSeconds: config.publicTokenTtlSeconds,
    burstLimit: config.publicBurstLimit,
  });
  const documents = new DocumentsService({
    store: documentsStore,
    files: new FileStore(config.filesDir),
    extractor: new PdfExtractor({
      maxPages: config.pdfMaxPages,
      timeoutMs: config.pdfTimeoutMs,
      maxHeapMb: config.pdfMaxHeapMb,
    }),
    conversations,
    clock,
    chunking: { targetTokens: config.chunkTokens, overlapTokens: config.chunkOverlapTokens },
    searchIndex: searchIndexer,
  });
  // Stored files of deleted sessions (their rows went by cascade): ten minutes after start-up, then
  // hourly. Never at once: a CLI command builds these services and closes them straight away.
  let closed = false;
  const sweepOrphans = () =>
    void documents.sweepOrphans().catch((error: unknown) => {
      if (!closed) warnAs('documents')(`documents: sweeping unused files failed: ${(error as Error).message}`);
    });
  let sweepTimer: NodeJS.Timeout = setTimeout(() => {
    sweepOrphans();
    sweepTimer = setInterval(sweepOrphans, 3_600_000);
    sweepTimer.unref();
  }, 600_000);
  sweepTimer.unref();
  const prompts = new PromptsService({ store: new PromptsStore(sql.db), completions, models: modelCatalog, clock });
  const streamRecovery = new StreamRecovery({ store: conversationsStore, clock, mode: config.mode, leaseMs });
  return {
    config,
    clock,
    sql,
    users,
    apiKeys,
    auth,
    events,
    running,
    models,
    completions,
    conversations,
    agents,
    agentRuns,
    publicKeys,
    publicConversations,
    conversationCompletions,
    answerStreams,
    idempotency,
    streamRecovery,
    plans,
    limits: limits.service,
    limitsGate: limits.gate,
    usage,
    webSearch,
    documents,
    prompts,
    search,
    searchIndexer,
    version: options.version,
    async close() {
      streamRecovery.stop();
      await searchIndexer.stop();
      closed = true;
      clearTimeout(sweepTimer);
      clearInterval(sweepTimer);
      clearInterval(modelsRefresh);
      await models.close();
      await events.close();
      await limits.close();
      await cancels.close();
      await eventLog.close();
      await sql.close();
    },
  };
}

/**
 * The model providers the configuration declares, built once: an OpenAI-compatible adapter per
 * provider that has its key, the in-process mock when enabled, then `extra` (the local engine, or
 * a test's own). Providers whose key variable is unset stay in `specs`, so the registry can say why.
 */
export function modelProviders(
  config: Config,
  extra: Provider[] = [],
  warn?: (message: string) => void,
): { specs: ProviderSpec[]; mapped: ModelSpec[]; providers: Provider[] } {
  const { providers: specs, models: mapped } = registrySpecs(config);
  const timeouts = {
    connectMs: config.providerConnectTimeoutMs,
    firstByteMs: config.providerFirstByteTimeoutMs,
    idleMs: config.providerIdleTimeoutMs,
  };
  const outbound = outboundPolicy(config);
  const providers: Provider[] = specs
    .filter((spec) => !spec.keyMissing)
    .map(
      (spec) =>
        new OpenAiCompatibleProvider({
          ...spec,
          timeouts,
          retries: config.providerRetries,
          connectionWaitMs: config.providerConnectionWaitMs,
          warn,
          outbound,
        }),
    );
  if (config.mockProvider) {
    providers.push(createMockProvider({ timeouts }));
    specs.push({
      id: 'mock',
      kind: 'mock',
      baseUrl: 'in-process',
      streamUsage: true,
      seedField: 'seed',
      discover: true,
    });
  }
  return { specs, mapped, providers: [...providers, ...extra] };
}

/**
 * Embeddings from a model of the registry, called directly: indexing is the server's own work,
 * not a request of the user, so it is not admitted by the limits nor written to the usage ledger.
 */
function registryEmbedder(models: ModelsService, model: string): Embedder {
  return {
    model,
    async embed(texts, options) {
      const { entry, provider } = await models.resolve(model);
      if (!provider.embed) throw invalid('CAUSERIE_EMBEDDING_MODEL', `${entry.id} does not compute embeddings`);
      const { embeddings } = await provider.embed(texts, entry.upstream, options).catch((error: unknown) => {
        throw fromProvider(error);
      });
      if (embeddings.length !== texts.length)
        throw new AppError(
          'upstream_error',
          `${entry.id} returned ${embeddings.length} embeddings for ${texts.length} texts`,
        );
      return embeddings;
    },
  };
}
