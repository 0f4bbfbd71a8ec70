import type { Registry } from 'prom-client';
import type { Services } from '../../services.ts';
import type { App } from '../app.ts';
import { registerOperationsRoutes } from './platform/operations.routes.ts';
import { registerOAuthRoutes } from './platform/oauth.routes.ts';
import { registerPagesRoutes } from './platform/pages.routes.ts';
import { registerKeysRoutes } from './native/keys.routes.ts';
import { registerAccountRoutes } from './native/account.routes.ts';
import { registerUsersRoutes } from './chat-service/users.routes.ts';
import { registerModelsRoutes } from './native/models.routes.ts';
import { registerOpenAiChatRoutes } from './openai/chat-completions.routes.ts';
import { registerOpenAiModelsRoutes } from './openai/models.routes.ts';
import { registerSessionsRoutes } from './native/sessions.routes.ts';
import { registerMessagesRoutes } from './native/messages.routes.ts';
import { registerChatServiceConversationsRoutes } from './chat-service/conversations.routes.ts';
import { registerChatApiRoutes } from './chat-api/chat.routes.ts';
import { registerChatsRoutes } from './chats/chats.routes.ts';
import { registerChatsConversationsRoutes } from './chats/conversations.routes.ts';
import { registerPlansRoutes } from './native/plans.routes.ts';
import { registerLimitsRoutes } from './native/limits.routes.ts';
import { registerUsageRoutes } from './native/usage.routes.ts';
import { registerSearchRoutes } from './native/search.routes.ts';
import { registerChatServiceSearchRoutes } from './chat-service/search.routes.ts';

/** Every route module, one per surface and noun. */
export function registerSurfaces(app: App, services: Services, extras: { metrics: Registry }) {
  registerOperationsRoutes(app, services, extras.metrics);
  registerPagesRoutes(app, services);
  registerOAuthRoutes(app, services);
  registerAccountRoutes(app, services);
  registerKeysRoutes(app, services);
  registerUsersRoutes(app, services);
  registerModelsRoutes(app, services);
  registerOpenAiChatRoutes(app, services);
  registerOpenAiModelsRoutes(app, services);
  registerSessionsRoutes(app, services);
  registerMessagesRoutes(app, services);
  registerChatServiceConversationsRoutes(app, services);
  registerChatApiRoutes(app, services);
  registerChatsRoutes(app, services);
  registerChatsConversationsRoutes(app, services);
  registerPlansRoutes(app, services);
  registerLimitsRoutes(app, services);
  registerUsageRoutes(app, services);
  registerSearchRoutes(app, services);
  registerChatServiceSearchRoutes(app, services);
}
