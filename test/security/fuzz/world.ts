import { Pool } from 'undici';
import { basic, createKey, passwordGrant, signUp, type SignedUpUser } from '../../helpers/platform.ts';
import type { Dialect, TestServer } from '../../helpers/server.ts';
import { startChatServer, type ChatServer } from '../../e2e/conversations-helpers.ts';
import { browserAgent, mintToken, pageOrigin, publishAgent } from '../../e2e/public-agents-helpers.ts';
import type { CredentialKind, ParamValue, RequestPlan } from './requests.ts';

export interface Resource {
  id: number | string;
  uuid?: string;
}

/**
 * A running Causerie with a user, an admin, one of each credential, and some resources of each
 * kind for path parameters to name. The fuzzer can revoke or break any of it (that is allowed
 * behaviour); `restore()` makes every credential work again between batches.
 */
export class FuzzWorld {
  readonly chat: ChatServer;
  readonly server: TestServer;
  readonly pool: Pool;
  /** Every secret handed to the server in this run: no response may contain one. */
  readonly secrets = new Set<string>();
  readonly user: SignedUpUser;
  /** A second user with nothing of their own but an API key: the intruder of the authorization tests. */
  other!: SignedUpUser & { key: string };
  private credentials: Partial<Record<CredentialKind, string>> = {};
  private agentId = 0;
  readonly resources: Record<string, Resource[]> = {};

  private constructor(chat: ChatServer, user: SignedUpUser) {
    this.chat = chat;
    this.server = chat.server;
    this.user = user;
    this.pool = new Pool(chat.server.url, { connections: 8, keepAliveTimeout: 30_000 });
  }

  static async start(dialect: Dialect): Promise<FuzzWorld> {
    // Throttles that would lock the fuzzing user out for the rest of the run are raised: they have
    // their own tests (login-throttle, bounded-listings). Everything else keeps its default.
    const chat = await startChatServer(dialect, {
      CAUSERIE_LOGIN_FAILURE_LIMIT: '10000',
      CAUSERIE_LOGIN_ADDRESS_FAILURE_LIMIT: '1000000',
      CAUSERIE_WRITES_PER_MINUTE: '1000000',
      CAUSERIE_PUBLIC_BURST_LIMIT: '100000',
      CAUSERIE_PUBLIC_VISITOR_REQUESTS_PER_MINUTE: '100000',
    });
    const user = await signUp(chat.server, 'fuzz-user');
    const world = new FuzzWorld(chat, user);
    world.secrets.add(chat.server.adminKey).add(chat.server.adminPassword).add(user.password);
    world.secrets.add(chat.server.env.OPENAI_API_KEY!);
    await world.populate();
    await world.restore();
    return world;
  }

  private remember(kind: string, ...items: Resource[]) {
    this.resources[kind] ??= [];
    this.resources[kind].push(...items);
  }

  private async populate() {
    const server = this.server;
    const auth = this.user.basic;
    const other = await signUp(server, 'fuzz-other');
    const otherKey = await createKey(server, other.basic, { name: 'intruder' });
    this.other = { ...other, key: otherKey.key };
    this.secrets.add(other.password).add(otherKey.key);
    this.remember(
      'users',
      { id: this.user.username },
      { id: this.user.id, uuid: this.user.uuid },
      { id: other.id, uuid: other.uuid },
    );
    for (let i = 0; i < 3; i++) {
      const key = await createKey(server, auth, { name: `spare ${i}` });
      this.secrets.add(key.key);
      this.remember('keys', { id: key.id, uuid: key.body.uuid });
    }
    for (let i = 0; i < 3; i++) {
      const session = await server.api('/api/v1/sessions', {
        method: 'POST',
        body: { title: `s${i}`, model: 'gpt-4' },
        auth,
      });
      this.remember('sessions', { id: session.body.id, uuid: session.body.uuid });
      await server.api(`/api/v1/sessions/${session.body.id}/models/completions`, {
        method: 'POST',
        body: { prompt: 'hello' },
        auth,
      });
      const history = await server.api(`/api/v1/sessions/${session.body.id}/history`, { auth });
      for (const message of history.body) this.remember('messages', { id: message.id, uuid: message.uuid });
    }
    const prompt = await server.api('/api/chat/prompts', {
      method: 'POST',
      body: { name: 'p', content: 'Say {{x}}' },
      auth,
    });
    if (prompt.status === 200) this.remember('prompts', { id: prompt.body.id, uuid: prompt.body.uuid });
    const published = await publishAgent(server, { owner: this.user });
    this.agentId = published.agent.id;
    this.secrets.add(published.key);
    this.credentials.public_key = published.key;
    this.remember('agents', { id: published.agent.id, uuid: published.agent.uuid });
    this.remember('publicKeys', { id: published.keyRecord.id, uuid: published.keyRecord.uuid });
    this.remember('models', { id: 'gpt-4' }, { id: 'openai/upstream-gpt-4' }, { id: 'gpt-3.5-turbo' });
    this.remember('plans', { id: 'free' }, { id: 'default' });
  }

  /** Makes every credential work again: the fuzzer may have revoked, disabled or signed out any of them. */
  async restore() {
    const server = this.server;
    const adminOk =
      (await server.api('/api/v1/me', { auth: this.credentials.admin ?? server.adminKey })).status === 200;
    if (!adminOk) {
      const key = await createKey(server, basic('admin', server.adminPassword));
      this.credentials.admin = key.key;
      this.secrets.add(key.key);
    } else this.credentials.admin ??= server.adminKey;
    const admin = this.credentials.admin!;
    // An admin may remove models: put the ones the world uses back.
    const removed = await server.api('/api/v1/models/removed', { auth: admin });
    for (const model of Array.isArray(removed.body) ? removed.body : [])
      await server.api(`/api/v1/models/removed/${encodeURIComponent(model.id ?? model)}`, {
        method: 'DELETE',
        auth: admin,
      });
    await server.api(`/api/v1/users/${this.user.username}`, {
      method: 'PATCH',
      body: { disabled: false },
      auth: admin,
    });
    this.credentials.basic = this.user.basic;
    if (
      !this.credentials.api_key ||
      (await server.api('/api/v1/me', { auth: this.credentials.api_key })).status !== 200
    ) {
      const key = await createKey(server, this.user.basic, { name: 'fuzz' });
      this.credentials.api_key = key.key;
      this.secrets.add(key.key);
    }
    if (
      !this.credentials.access_token ||
      (await server.api('/api/v1/me', { auth: this.credentials.access_token })).status !== 200
    ) {
      const tokens = await passwordGrant(server, this.user.username, this.user.password);
      this.credentials.access_token = tokens.access_token;
      this.secrets.add(tokens.access_token).add(tokens.refresh_token);
    }
    let minted = await mintToken(server, this.credentials.public_key!, this.agentId);
    if (minted.status === 404 || minted.status === 401) {
      const published = await publishAgent(server, { owner: this.user });
      this.agentId = published.agent.id;
      this.credentials.public_key = published.key;
      this.secrets.add(published.key);
      this.remember('agents', { id: published.agent.id, uuid: published.agent.uuid });
      minted = await mintToken(server, published.key, this.agentId);
    }
    if (minted.status === 200) {
      this.credentials.client_token = minted.body.token;
      this.secrets.add(minted.body.token);
    }
  }

  /** The Authorization header for a credential kind (undefined: none). */
  authorization(kind: CredentialKind, pick: number): string | undefined {
    switch (kind) {
      case 'none':
        return undefined;
      case 'basic':
        return this.credentials.basic;
      case 'bogus':
        return [
          'Bearer API_AAAA_BBBB_CCCC_DDDD_EEEE_FFFF_GGGG_HHHH',
          'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
          `Bearer ${this.credentials.access_token?.slice(0, -4)}AAAA`,
          'Bearer PUB_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA_AAAA',
          'Bearer pct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
          basic('fuzz-user', 'not-the-password'),
          'Basic !!!not-base64!!!',
          'Basic ',
          'Bearer',
          'Token abc',
          `Bearer ${'A'.repeat(4000)}`,
        ][pick % 11];
      default:
        return `Bearer ${this.credentials[kind]}`;
    }
  }

  /** The resources a path parameter (or a body field) of this name refers to. */
  resourceFor(path: string, param: string): Resource[] {
    if (param === 'key_id') return path.includes('public-keys') ? this.resources.publicKeys! : this.resources.keys!;
    if (param === 'message_id') return this.resources.messages!;
    if (param === 'agent_id' || param === 'modelId') return this.resources.agents!;
    if (param === 'prompt_id') return this.resources.prompts ?? [];
    if (param === 'username') return this.resources.users!;
    if (param === 'plan') return this.resources.plans!;
    if (param === 'model_id' || param === 'model') return this.resources.models!;
    if (param === 'file_id') return [];
    return this.resources.sessions!;
  }

  private paramText(path: string, name: string, value: ParamValue): string {
    if ('text' in value) return value.text;
    if (name === 'token') return this.credentials.client_token ?? 'pct_none';
    const pool = this.resourceFor(path, name);
    const resource = pool[value.known % Math.max(1, pool.length)];
    if (!resource) return String(value.known + 1);
    if (value.form === 'id' || !resource.uuid) return encodeURIComponent(String(resource.id));
    return value.form === 'upper' ? resource.uuid.toUpperCase() : resource.uuid;
  }

  /** The concrete request a plan stands for. */
  resolve(plan: RequestPlan, pick: number) {
    const { operation } = plan;
    let path = operation.path.replace(/\{([^}]+)\}/g, (_, name: string) =>
      plan.params[name] ? this.paramText(operation.path, name, plan.params[name]!) : '1',
    );
    const query = new URLSearchParams(plan.query).toString();
    if (query) path += `?${query}`;
    const headers: string[] = ['origin', pageOrigin, 'user-agent', browserAgent];
    const authorization = this.authorization(plan.credential, pick);
    if (authorization) headers.push('authorization', authorization);
    if (plan.contentType) headers.push('content-type', plan.contentType);
    for (const [name, value] of plan.headers) headers.push(name, value);
    let body = plan.body;
    // A visitor's client token travels in the body of the public message route.
    if (plan.credential === 'client_token' && body?.includes('"client_token"') && this.credentials.client_token) {
      body = body.replace(/"client_token":"[^"]*"/, `"client_token":${JSON.stringify(this.credentials.client_token)}`);
    }
    return { method: operation.method, path, headers, body };
  }

  async stop() {
    await this.pool.close();
    await this.chat.stop();
  }
}
