import type { Config } from './config.ts';
import type { Clock } from './domain/clock.ts';
import { ApiKeysService } from './domain/api-keys/api-keys.service.ts';
import { ApiKeysStore } from './domain/api-keys/api-keys.store.ts';
import { AuthService } from './domain/auth/auth.service.ts';
import { RefreshTokensStore } from './domain/auth/refresh-tokens.store.ts';
import { UsersService } from './domain/users/users.service.ts';
import { UsersStore } from './domain/users/users.store.ts';
import { ModelsService } from './domain/models/models.service.ts';
import type { SqlStore } from './stores/sql/database.ts';

/** Every domain service, built once from the stores and the config and passed down explicitly. */
export interface Services {
  config: Config;
  clock: Clock;
  sql: SqlStore;
  users: UsersService;
  apiKeys: ApiKeysService;
  auth: AuthService;
  models: ModelsService;
  version: string;
  /** Releases every resource the services hold (database pool, provider connections). */
  close(): Promise<void>;
}

export function createServices(options: { config: Config; sql: SqlStore; clock: Clock; tokenSecret: string; version: string }): Services {
  const { config, sql, clock } = options;
  const usersStore = new UsersStore(sql.db);
  const users = new UsersService({ store: usersStore, clock, allowSignup: config.allowSignup });
  const apiKeys = new ApiKeysService({ store: new ApiKeysStore(sql.db), clock });
  const auth = new AuthService({
    users,
    usersStore,
    apiKeys,
    refreshTokens: new RefreshTokensStore(sql.db),
    clock,
    tokenSecret: options.tokenSecret,
    accessTokenSeconds: config.accessTokenSeconds,
    refreshTokenSeconds: config.refreshTokenSeconds,
  });
  const models = new ModelsService();
  return {
    config,
    clock,
    sql,
    users,
    apiKeys,
    auth,
    models,
    version: options.version,
    close: () => sql.close(),
  };
}
