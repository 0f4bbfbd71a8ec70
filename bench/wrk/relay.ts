/** bench/bare-relay.ts as a process of its own for bench/wrk/proxy.sh (PORT, UPSTREAM_PORT; key "relay-key"). */
import { startBareRelay } from '../bare-relay.ts';

await startBareRelay({
  upstreamBaseUrl: `http://127.0.0.1:${process.env.UPSTREAM_PORT}/v1`,
  upstreamKey: 'x',
  key: 'relay-key',
  port: Number(process.env.PORT),
});
process.on('SIGTERM', () => process.exit(0));
