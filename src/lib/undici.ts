import { createRequire } from 'node:module';
import type * as Undici from 'undici';

/*
 * The parts of undici Causerie uses (a pool, an agent, `request`), loaded by path. Its entry point
 * loads all of it: fetch, WebSocket, caches, mocks and, through its File and Blob checks, Node's own
 * bundled copy of undici: ~9 MiB more at rest for code a server never runs. The paths are undici's
 * CommonJS files, pinned by the lockfile; the provider and web-fetch tests go through each of them.
 */
const load = createRequire(import.meta.url);
const Dispatcher = load('undici/lib/dispatcher/dispatcher.js') as typeof Undici.Dispatcher;
// What the entry point does too: request() and stream() are the API added to every dispatcher.
Object.assign(Dispatcher.prototype, load('undici/lib/api/index.js') as object);

const UndiciPool = load('undici/lib/dispatcher/pool.js') as typeof Undici.Pool;
const { kClients, kNeedDrain, kGetDispatcher, kHasDispatcher, kOnClientBusy, kOnClientDrain } = load(
  'undici/lib/dispatcher/pool-base.js',
) as Record<string, symbol>;

type Client = Record<symbol, unknown> & { closed?: boolean; destroyed?: boolean };
type PoolInternals = Record<symbol, unknown> & { [key: symbol]: Client[] | ((...args: unknown[]) => unknown) };
const usable = (client: Client) => !client[kNeedDrain!] && client.closed !== true && client.destroyed !== true;
const free = new WeakMap<object, Set<Client>>();
const caps = new WeakMap<object, number>();

/**
 * undici's Pool, finding a free connection in constant time. Its own looks through every
 * connection for one that is not busy, twice per request: with one connection per open stream,
 * a thousand streams opened at once cost half a million checks (a tenth of a second of CPU before
 * their first byte) and ten thousand a hundred times that. Here the pool keeps the set of
 * connections known to be free (undici tells its subclasses when one becomes busy or free) and,
 * when none is, opens one without looking (up to `connections`, when set).
 */
export class Pool extends UndiciPool {
  constructor(origin: string | URL, options: Undici.Pool.Options = {}) {
    super(origin, options);
    free.set(this, new Set());
    if (options.connections) caps.set(this, options.connections);
  }

  override dispatch(options: Undici.Dispatcher.DispatchOptions, handler: Undici.Dispatcher.DispatchHandler): boolean {
    const own = handler as Handler;
    if (typeof own.onResponseStart === 'function' && own[kOnResponseStart] === undefined) {
      own[kOnResponseStart] = own.onResponseStart;
      own.onResponseStart = releaseAfterResponseStart as Handler['onResponseStart'];
    }
    return super.dispatch(options, handler);
  }
}

type Handler = {
  onResponseStart?: (...args: unknown[]) => unknown;
  [kOnResponseStart]?: (...args: unknown[]) => unknown;
  body?: unknown;
};
const kOnResponseStart = Symbol('onResponseStart');

/**
 * What undici keeps for the life of a response that nothing reads once it started: the raw
 * response headers on the request's controller (a dozen Buffers that also hold the socket read
 * they were cut from, ~1.9 KiB per open stream) and, on request()'s handler, the request body it
 * was given as a string (a second copy of the prompt: undici sends its own Buffer of it). The
 * headers stay parsed; the handler reads its body only to destroy a stream body on error.
 */
function releaseAfterResponseStart(
  this: Handler,
  controller: { rawHeaders?: unknown } | undefined,
  ...rest: unknown[]
) {
  try {
    return this[kOnResponseStart]!.call(this, controller, ...rest);
  } finally {
    if (controller) controller.rawHeaders = null;
    if (typeof this.body === 'string') this.body = null;
  }
}
{
  const own = Pool.prototype as unknown as Record<symbol, (this: PoolInternals, ...args: never[]) => unknown>;
  const parent = UndiciPool.prototype as unknown as Record<
    symbol,
    (this: PoolInternals, ...args: unknown[]) => unknown
  >;
  own[kOnClientBusy!] = function (client: Client) {
    free.get(this)?.delete(client);
    return parent[kOnClientBusy!]!.call(this, client);
  };
  own[kOnClientDrain!] = function (client: Client) {
    free.get(this)?.add(client);
    return parent[kOnClientDrain!]!.call(this, client);
  };
  own[kHasDispatcher!] = function () {
    for (const client of free.get(this) ?? []) if (usable(client)) return true;
    return false;
  };
  own[kGetDispatcher!] = function () {
    const known = free.get(this)!;
    for (const client of known) {
      if (usable(client)) return client;
      known.delete(client);
    }
    const all = this[kClients!] as Client[];
    const cap = caps.get(this);
    if (cap !== undefined && all.length >= cap) return parent[kGetDispatcher!]!.call(this);
    // undici's own choice sees no client (so it looks at none) and opens one, or queues the
    // request while an HTTPS connection finds out whether the server speaks HTTP/2.
    this[kClients!] = [];
    let client: Client | undefined;
    try {
      client = parent[kGetDispatcher!]!.call(this) as Client | undefined;
    } finally {
      const added = this[kClients!] as Client[];
      this[kClients!] = all;
      all.push(...added);
    }
    if (client) known.add(client);
    return client;
  };
}
export const Agent = load('undici/lib/dispatcher/agent.js') as typeof Undici.Agent;
export const buildConnector = load('undici/lib/core/connect.js') as typeof Undici.buildConnector;
export type Agent = Undici.Agent;
const { getGlobalDispatcher } = load('undici/lib/global.js') as { getGlobalDispatcher(): Undici.Dispatcher };

type RequestOptions = Omit<Undici.Dispatcher.RequestOptions, 'origin' | 'path' | 'method'> & {
  method?: Undici.Dispatcher.HttpMethod;
  dispatcher?: Undici.Dispatcher;
};

/** undici's `request(url, options)`: one request through the given dispatcher, else the global one. */
export function request(url: string | URL, options: RequestOptions = {}): Promise<Undici.Dispatcher.ResponseData> {
  const target = new URL(url);
  const { dispatcher = getGlobalDispatcher(), method, ...rest } = options;
  return dispatcher.request({
    ...rest,
    origin: target.origin,
    path: `${target.pathname}${target.search}`,
    method: method ?? (rest.body ? 'PUT' : 'GET'),
  });
}
