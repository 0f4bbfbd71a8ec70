import { createRequire } from 'node:module';
import type * as Prom from 'prom-client';

/*
 * The parts of prom-client Causerie uses, loaded by path. Its entry point also loads the
 * Pushgateway (node:https), the cluster aggregator and, for the process CPU counters' exemplars
 * (trace ids, which Causerie does not enable), the OpenTelemetry API: ~80 modules held for the
 * server's life (decision 026). The paths are prom-client's CommonJS files, pinned by the
 * lockfile; the metrics test reads every default metric through them.
 */
const load = createRequire(import.meta.url);

export const Registry = load('prom-client/lib/registry.js') as typeof Prom.Registry;
export type Registry = Prom.Registry;
export const Counter = load('prom-client/lib/counter.js') as typeof Prom.Counter;
export const Gauge = load('prom-client/lib/gauge.js') as typeof Prom.Gauge;
export const Histogram = load('prom-client/lib/histogram.js') as typeof Prom.Histogram;

type DefaultMetric = (registry: Registry, config: object) => void;
// prom-client's default metrics but its process CPU counters (below, the same without exemplars)
// and its event-loop lag (served from Causerie's own delay monitor, src/http/metrics.ts).
const defaults = [
  'processStartTime',
  'osMemoryHeap',
  'processOpenFileDescriptors',
  'processMaxFileDescriptors',
  'processResources',
  'processHandles',
  'processRequests',
  'heapSizeAndUsed',
  'heapSpacesSizeAndUsed',
  'version',
  'gc',
];

/** prom-client's `collectDefaultMetrics({ register })`: the same metrics, names and help texts (event-loop lag aside). */
export function collectDefaultMetrics({ register }: { register: Registry }): void {
  processCpuTotal(register);
  for (const name of defaults)
    (load(`prom-client/lib/metrics/${name}.js`) as DefaultMetric)(register, { eventLoopMonitoringPrecision: 10 });
}

/** CPU time since the counters were made, read at each scrape (as prom-client's own). */
function processCpuTotal(registry: Registry): void {
  let last = process.cpuUsage();
  const system = new Counter({
    name: 'process_cpu_system_seconds_total',
    help: 'Total system CPU time spent in seconds.',
    registers: [],
  });
  const total = new Counter({
    name: 'process_cpu_seconds_total',
    help: 'Total user and system CPU time spent in seconds.',
    registers: [],
  });
  const user = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers: [],
    collect() {
      const now = process.cpuUsage();
      const userMicros = now.user - last.user;
      const systemMicros = now.system - last.system;
      last = now;
      user.inc(userMicros / 1e6);
      system.inc(systemMicros / 1e6);
      total.inc((userMicros + systemMicros) / 1e6);
    },
  });
  for (const counter of [user, system, total]) registry.registerMetric(counter);
}
