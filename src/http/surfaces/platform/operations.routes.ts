import { sql } from 'kysely';
import type { Registry } from 'prom-client';
import { Type } from 'typebox';
import type { Services } from '../../../services.ts';
import type { App } from '../../app.ts';

const Status = Type.Object({ status: Type.String() });

/** Liveness, readiness and Prometheus metrics for orchestrators and monitoring. */
export function registerOperationsRoutes(app: App, services: Services, metrics: Registry) {
  app.get('/healthz', { schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Status } } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['operations'], summary: 'The database and the limits store (Redis in cluster mode) answer', response: { 200: Status, 503: Status } } },
    async (request, reply) => {
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

  const exposition = { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } };
  app.get('/metrics', { schema: { tags: ['operations'], summary: 'Prometheus metrics: request counts and latencies by route and status', response: { 200: exposition } } }, async (_request, reply) =>
    reply.type(metrics.contentType).send(await metrics.metrics()),
  );
}
