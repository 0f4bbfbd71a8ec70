import { type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/**
 * One line per request, written when it ends: `request completed` (or `request errored`) with the
 * `reqId`, the method, URL and client address (`req`), the status (`res`) and the time taken.
 * Fastify's own `incoming request` line is kept at debug level only: a second line per request is
 * work for every answer (its JSON alone was ~2 % of a JSON completion's CPU time) that tells little
 * the line at the end does not.
 */
export class RequestLines extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}
