import type { Config } from './config.ts';
import type { Clock } from './domain/clock.ts';
import { ApiKeysService } from './domain/api-keys/api-keys.service.ts';
import { ApiKeysStore } from './domain/api-keys/api-keys.store.ts';
import { AuthService } from './domain/auth/auth.service.ts';
import { LoginThrottle } from './domain/auth/login-throttle.ts';
import { RefreshTokensStore } from './domain/auth/refresh-tokens.store.ts';
import { UsersService } from './domain/users/users.service.ts';
import { UsersStore } from './domain/users/users.store.ts';
import { ModelsService } from './domain/models/models.service.ts';
import { RemovedModelsStore } from './domain/models/models.store.ts';
import { createLocalProvider, listLocalModelFiles } from './providers/local/local-provider.ts';
import { CompletionsService } from './domain/completions/completions.service.ts';
import { ConversationCompletions } from './domain/conversations/conversation-completions.ts';
import { ConversationsService } from './domain/conversations/conversations.service.ts';
import { ConversationsStore } from './domain/conversations/conversations.store.ts';
import type { ContextEnricher } from './domain/conversations/context-enrichers.ts';
import { modelCatalogFrom } from './domain/conversations/model-catalog.ts';
import { StreamRecovery } from './domain/conversations/stream-recovery.ts';
import { createLimits } from './domain/limits/create-limits.ts';
import type { LimitsService } from './domain/limits/limits.service.ts';
import type { LimitsGate } from './domain/limits/limits.types.ts';
import { PlansService } from './domain/plans/plans.service.ts';
import { PlansStore } from './domain/plans/plans.store.ts';
import { UsageService } from './domain/usage/usage.service.ts';
import { UsageStore } from './domain/usage/usage.store.ts';
import { SearchIndexer, type Embedder } from './domain/search/search-indexer.ts';
import { SearchService } from './domain/search/search.service.ts';
import { SearchStore } from './domain/search/search.store.ts';
import { AppError, invalid } from './domain/errors.ts';
import type { SqlStore } from './stores/sql/database.ts';

/** Every domain service, built once from the stores and the config and passed down explicitly. */
export interface Services {
  config: Config;
  clock: Clock;
  sql: SqlStore;
  users: UsersService;
  apiKeys: ApiKeysService;
  auth: AuthService;
  /** The model registry: providers, their models, availability. */
  models: ModelsService;
  /** Model calls for every surface: admission, provider stream, usage ledger. */
  completions: CompletionsService;
  /** Conversations (sessions, chats) and their messages. */
  conversations: ConversationsService;
  /** Completions inside a conversation: history in, reply stored as it streams. */
  conversationCompletions: ConversationCompletions;
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
  /** Keyword and semantic search over one's own conversations. */
  search: SearchService;
  /** Keeps the search index in step (enqueue/remove for other modules); start() once at start-up. */
  searchIndexer: SearchIndexer;
  version: string;
  /** Releases every resource the services hold (database pool, provider connections). */
  close(): Promise<void>;
}

export function createServices(options: { config: Config; sql: SqlStore; clock: Clock; tokenSecret: string; version: string }): Services {
  const { config, sql, clock } = options;
  const usersStore = new UsersStore(sql.db);
  const users = new UsersService({ store: usersStore, clock, allowSignup: config.allowSignup });
  const apiKeysStore = new ApiKeysStore(sql.db);
  const apiKeys = new ApiKeysService({ store: apiKeysStore, clock });
  // Never a key in these messages: providers are named by id and origin only.
  const warn = (message: string) => {
    if (!['silent', 'fatal', 'error'].includes(config.logLevel)) process.stderr.write(`${JSON.stringify({ level: 40, time: clock.now(), msg: message })}\n`);
  };
  const local = {
    provider: createLocalProvider({ modelsDir: config.modelsDir, threads: config.localThreads, logger: { info: () => {}, warn: (_data, message) => warn(`local: ${message}`) } }),
    listFiles: () => listLocalModelFiles(config.modelsDir),
  };
  const models = new ModelsService({ config, store: new RemovedModelsStore(sql.db), clock, warn, local });
  const conversationsStore = new ConversationsStore(sql.db);
  const modelCatalog = modelCatalogFrom(models, config.defaultModel);
  const searchStore = new SearchStore(sql.db, sql.dialect);
  const searchIndexer = new SearchIndexer({
    store: searchStore,
    embedder: config.embeddingModel ? registryEmbedder(models, config.embeddingModel) : undefined,
    clock,
    warn,
    batchSize: config.searchIndexBatch,
    pollMs: config.searchIndexPollMs,
    leaseMs: config.streamStaleSeconds * 1000,
    mode: config.mode,
  });
  const conversations = new ConversationsService({ store: conversationsStore, users, models: modelCatalog, clock, searchIndex: searchIndexer });
  const search = new SearchService({ store: searchStore, indexer: searchIndexer, users, conversations });
  const plansStore = new PlansStore(sql.db);
  const usageStore = new UsageStore(sql.db);
  const limits = createLimits({
    warn,
    redisUrl: config.redisUrl,
    redisPrefix: config.redisPrefix,
    defaultPlan: config.defaultPlan,
    clock,
    plansStore,
    apiKeysStore,
    usageStore,
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
    loginThrottle: new LoginThrottle({ counters: limits.counters, clock, prefix: config.redisPrefix, maxFailures: config.loginFailureLimit }),
  });
  const plans = new PlansService({ store: plansStore, users, usersStore, clock, onChange: () => limits.resolver.forget() });
  const usage = new UsageService({ store: usageStore, users, clock });
  const completions = new CompletionsService({ models, limits: limits.gate, usage: usageStore, clock, warn });
  const leaseMs = config.streamStaleSeconds * 1000;
  // In this order: what the caller asked for is settled before documents and the web add context.
  const enrichers: ContextEnricher[] = [];
  const conversationCompletions = new ConversationCompletions({ store: conversationsStore, conversations, completions, models: modelCatalog, clock, timings: { leaseMs }, enrichers, searchIndex: searchIndexer });
  const streamRecovery = new StreamRecovery({ store: conversationsStore, clock, mode: config.mode, leaseMs });
  return {
    config,
    clock,
    sql,
    users,
    apiKeys,
    auth,
    models,
    completions,
    conversations,
    conversationCompletions,
    streamRecovery,
    plans,
    limits: limits.service,
    limitsGate: limits.gate,
    usage,
    search,
    searchIndexer,
    version: options.version,
    async close() {
      streamRecovery.stop();
      await searchIndexer.stop();
      await models.close();
      await limits.close();
      await sql.close();
    },
  };
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
      const { embeddings } = await provider.embed(texts, entry.upstream, options);
      if (embeddings.length !== texts.length) throw new AppError('upstream_error', `${entry.id} returned ${embeddings.length} embeddings for ${texts.length} texts`);
      return embeddings;
    },
  };
}
