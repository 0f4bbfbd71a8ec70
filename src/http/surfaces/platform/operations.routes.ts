import { timingSafeEqual } from 'node:crypto';
import { sql } from 'kysely';
import type { Registry } from 'prom-client';
import { Type } from '../../../lib/type.ts';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';
import { AppError } from '../../../domain/errors.ts';
import { sha256 } from '../../../domain/secrets.ts';
import { ErrorBody } from '../../schemas/common.ts';

const Status = Type.Object({ status: Type.String() });

/** Liveness, readiness and Prometheus metrics for orchestrators and monitoring. */
export function registerOperationsRoutes(app: App, services: Services, metrics: Registry) {
  app.get(
    '/healthz',
    { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status } } },
    async () => ({ status: 'ok' }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary:
          'The database and the limits store (Redis in cluster mode) answer, and the server is not shutting down',
        response: { 200: Status, 503: Status },
      },
    },
    async (request, reply) => {
      // First to go on SIGTERM, so a balancer stops sending here while requests are still served.
      if (app.lifecycle.draining) return reply.code(503).send({ status: 'shutting down' });
      try {
        await sql`select 1`.execute(services.sql.db);
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed: database');
        return reply.code(503).send({ status: 'database unreachable' });
      }
      try {
        await services.limits.ping();
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed: limits store');
        return reply.code(503).send({ status: 'limits store unreachable' });
      }
      return { status: 'ready' };
    },
  );

  const exposition = {
    description: 'Prometheus text exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  };
  // Per-route counts reveal how the server is used (sign-ups, sign-in outcomes): a token keeps them for the scraper.
  const token = services.config.metricsToken;
  const expected = token === undefined ? undefined : sha256(`Bearer ${token}`);
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics: request counts and latencies by route and status',
        description: 'When CAUSERIE_METRICS_TOKEN is set, send it as Authorization: Bearer <token>.',
        response: { 200: exposition, 401: ErrorBody },
      },
    },
    async (request, reply) => {
      const given = request.headers.authorization;
      if (
        expected !== undefined &&
        (given === undefined || !timingSafeEqual(Buffer.from(sha256(given)), Buffer.from(expected)))
      ) {
        throw new AppError('unauthorized', 'The metrics need the token set in CAUSERIE_METRICS_TOKEN', {
          headers: { 'www-authenticate': 'Bearer realm="metrics"' },
        });
      }
      return reply.type(metrics.contentType).send(await metrics.metrics());
    },
  );
}
