import type { FastifyInstance } from 'fastify';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from '../lib/prom-client.ts';
import type { ConnectionStats } from '../providers/openai-compatible/connection-slots.ts';

export interface MetricsSources {
  /** Each remote provider's connections (in flight, waiting, turned away). */
  connectionStats(): ConnectionStats[];
}

// The delay histogram samples the loop every 10 ms; each sample is that interval plus the delay.
const loopResolutionMs = 10;
const loopQuantiles = [0.5, 0.9, 0.99, 0.999];

/**
 * Prometheus metrics: request counts and latencies by route pattern and status, provider
 * connections, and how late the event loop runs (what stalls every request at once).
 */
export function registerMetrics(app: FastifyInstance, sources: MetricsSources): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({
    name: 'causerie_http_requests_total',
    help: 'HTTP requests by method, route and status.',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'causerie_http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status (to the end of the response).',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [registry],
  });
  // A callback, not an async function: a promise per request adds up on the hot path.
  app.addHook('onResponse', (request, reply, done) => {
    const labels = {
      method: request.method,
      route: request.routeOptions.url ?? 'unmatched',
      status: String(reply.statusCode),
    };
    requests.inc(labels);
    durations.observe(labels, reply.elapsedTime / 1000);
    done();
  });
  registerConnectionMetrics(registry, sources);
  registerEventLoopDelay(app, registry);
  return registry;
}

function registerConnectionMetrics(registry: Registry, sources: MetricsSources): void {
  const gauge = <K extends keyof ConnectionStats>(name: string, help: string, field: K) =>
    new Gauge({
      name,
      help,
      labelNames: ['provider'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const stats of sources.connectionStats()) {
          const value = stats[field];
          if (typeof value === 'number') this.set({ provider: stats.provider }, value);
        }
      },
    });
  gauge('causerie_provider_connections_max', 'The connection cap of each provider that has one.', 'max');
  gauge('causerie_provider_connections_active', 'Requests holding a connection to each provider.', 'active');
  gauge(
    'causerie_provider_connections_waiting',
    'Requests waiting for a connection (the provider is at its cap).',
    'waiting',
  );
  gauge(
    'causerie_provider_connection_waits_total',
    'Requests that had to wait for a connection, since start.',
    'waitedTotal',
  );
  gauge(
    'causerie_provider_connection_timeouts_total',
    'Requests turned away (503 upstream_busy) because no connection freed up in time, since start.',
    'timedOutTotal',
  );
}

/**
 * Event-loop delay percentiles over the time since the previous scrape (reset at each one), and
 * Node's usual `nodejs_eventloop_lag_*` metrics (prom-client's names and meaning) from the same
 * monitor: prom-client's default set would add a second one (~360 KiB of histogram, a timer
 * every 10 ms).
 */
function registerEventLoopDelay(app: FastifyInstance, registry: Registry): void {
  const histogram = monitorEventLoopDelay({ resolution: loopResolutionMs });
  histogram.enable();
  app.addHook('onClose', async () => histogram.disable());
  const delaySeconds = (nanoseconds: number) => Math.max(0, nanoseconds / 1e6 - loopResolutionMs) / 1000;
  const lagGauge = (name: string, help: string) => new Gauge({ name, help, registers: [registry] });
  const lag = new Gauge({
    name: 'nodejs_eventloop_lag_seconds',
    help: 'Lag of event loop in seconds.',
    registers: [registry],
    // Registered first, so the other gauges of this monitor are set before they are read.
    collect() {
      const start = process.hrtime.bigint();
      setImmediate(() => lag.set(Number(process.hrtime.bigint() - start) / 1e9));
      lagMin.set(histogram.min / 1e9);
      lagMax.set(histogram.max / 1e9);
      lagMean.set(histogram.mean / 1e9);
      lagStddev.set(histogram.stddev / 1e9);
      lagP50.set(histogram.percentile(50) / 1e9);
      lagP90.set(histogram.percentile(90) / 1e9);
      lagP99.set(histogram.percentile(99) / 1e9);
    },
  });
  const lagMin = lagGauge('nodejs_eventloop_lag_min_seconds', 'The minimum recorded event loop delay.');
  const lagMax = lagGauge('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.');
  const lagMean = lagGauge('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.');
  const lagStddev = lagGauge(
    'nodejs_eventloop_lag_stddev_seconds',
    'The standard deviation of the recorded event loop delays.',
  );
  const lagP50 = lagGauge('nodejs_eventloop_lag_p50_seconds', 'The 50th percentile of the recorded event loop delays.');
  const lagP90 = lagGauge('nodejs_eventloop_lag_p90_seconds', 'The 90th percentile of the recorded event loop delays.');
  const lagP99 = lagGauge('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.');
  new Gauge({
    name: 'causerie_event_loop_delay_seconds',
    help: 'How late the event loop ran its timers, by quantile and max, since the previous scrape.',
    labelNames: ['quantile'] as const,
    registers: [registry],
    collect() {
      // No sample yet (a scrape within 10 ms of the previous one): no delay was seen.
      const seen = histogram.count > 0;
      for (const q of loopQuantiles)
        this.set({ quantile: String(q) }, seen ? delaySeconds(histogram.percentile(q * 100)) : 0);
      this.set({ quantile: 'max' }, seen ? delaySeconds(histogram.max) : 0);
      histogram.reset();
    },
  });
}
