import type { TestServer } from './server.ts';

export interface Route {
  method: string;
  path: string;
}

/** Every route Fastify registered, read from printRoutes' tree (HEAD twins of GET routes left out). */
export function registeredRoutes(server: TestServer): Route[] {
  const tree = server.app.printRoutes({ commonPrefix: false });
  const stack: string[] = [];
  const routes: Route[] = [];
  for (const line of tree.split('\n')) {
    const match = /^(.*?)[└├]── (.+?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + match[2];
    stack[depth] = path;
    for (const method of match[3]?.split(', ') ?? []) {
      if (method !== 'HEAD') routes.push({ method, path });
    }
  }
  return routes;
}

// A parameter starts a segment; a ':' inside one is literal (the chat-service dialect's ".../messages:complete").
export const toOpenApiPath = (path: string) => path.replace(/(^|\/):([A-Za-z0-9_]+)/g, '$1{$2}');
