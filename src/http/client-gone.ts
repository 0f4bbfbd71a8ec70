import type { FastifyReply } from 'fastify';

/**
 * A signal that aborts when the client goes away before the response is complete, so the model
 * call stops (and a conversation reply is stored as cancelled). It exists before any SSE stream
 * does (a completion starts first, so refusals get a real HTTP status) and serves JSON answers too.
 * The listener lives on the response, not on the keep-alive socket, so none pile up.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const raw = reply.raw;
  raw.once('close', () => {
    if (!raw.writableFinished) controller.abort(new Error('client disconnected'));
  });
  return controller.signal;
}
