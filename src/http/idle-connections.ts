import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Makes `server.closeIdleConnections()` (called by Node when the server closes, and by the drain's
 * reaper) close only connections idle for at least `minIdleMs`. Behind a proxy that keeps
 * connections alive, a connection it has just been handed back (the end of a stream, say) is the
 * first it reuses: closing it at that moment loses the request the proxy is sending on it, and a
 * proxy does not resend a POST. A proxy that drops idle connections sooner than `minIdleMs` never
 * meets a closed one. With 0, idle connections close at once, as Node does.
 */
export function closeOnlyLongIdleConnections(server: Server, minIdleMs: number): void {
  if (minIdleMs <= 0) return;
  const sockets = new Map<Socket, { active: number; idleSince: number }>();
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { active: 0, idleSince: performance.now() });
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (request, response) => {
    const state = sockets.get(request.socket);
    if (!state) return;
    state.active++;
    response.once('close', () => {
      state.active--;
      state.idleSince = performance.now();
    });
  });
  server.closeIdleConnections = () => {
    const now = performance.now();
    for (const [socket, state] of sockets)
      if (state.active === 0 && now - state.idleSince >= minIdleMs) socket.destroy();
  };
}
