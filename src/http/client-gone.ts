import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerResponse } from 'node:http';

const signal = Symbol('client gone');
const deferral = Symbol('client gone deferral');
/** Kept on the response itself: a WeakMap entry per request cost more (and weighs on every collection). */
type Tracked = ServerResponse & { [signal]?: AbortController; [deferral]?: (stop: () => void) => void };

/**
 * Arms the client-gone signal of a request. Called from the first onRequest hook, before
 * authentication, lookups or body parsing, so a client that hangs up in the first milliseconds
 * (while the database is still being asked who it is) is noticed: the route then finds its
 * signal already aborted and calls no model.
 */
export function armClientGone(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const raw: Tracked = reply.raw;
  let controller = raw[signal];
  if (controller) return controller.signal;
  controller = new AbortController();
  raw[signal] = controller;
  const gone = () => {
    if (raw.writableFinished) return;
    const stop = () => controller.abort(new Error('client disconnected'));
    const defer = raw[deferral];
    if (defer) defer(stop);
    else stop();
  };
  // The listener lives on the response, not on the keep-alive socket, so none pile up (and a response closes once).
  raw.on('close', gone);
  // Gone before we even listened: the socket is already closed.
  if (raw.destroyed || request.raw.socket?.destroyed) gone();
  return controller.signal;
}

/**
 * A signal that aborts when the client goes away before the response is complete, so the model
 * call stops (and a conversation reply is stored as cancelled). It exists before any SSE stream
 * does (a completion starts first, so refusals get a real HTTP status) and serves JSON answers too.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  return armClientGone(reply.request, reply);
}

/** Whether the client of this request has left before its response was complete. */
export function clientLeft(reply: FastifyReply): boolean {
  return (reply.raw as Tracked)[signal]?.signal.aborted ?? false;
}

/**
 * Lets a resumable stream decide when its client's departure stops the answer (after a grace
 * period nobody resumed it in, say): `decide` gets the function that stops it.
 */
export function deferClientGone(reply: FastifyReply, decide: (stop: () => void) => void): void {
  (reply.raw as Tracked)[deferral] = decide;
}
