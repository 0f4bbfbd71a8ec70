import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  startScriptedUpstream,
  type ScriptedUpstream,
  type ScriptedUpstreamOptions,
} from '../../src/providers/mock/scripted-upstream.ts';
import { startTestServer, type Dialect, type TestServer } from '../helpers/server.ts';

export const upstreamKey = 'sk-upstream-secret-for-tests';

export interface ModelsServer {
  server: TestServer;
  upstream: ScriptedUpstream;
  stop(): Promise<void>;
}

/**
 * A Causerie whose "openai" provider is the scripted upstream (discovered models openai/echo and
 * openai/embed), plus whatever the config file adds.
 */
export async function startModelsServer(
  dialect: Dialect,
  options: {
    /** The config file; a function gets the upstream (to point more providers at it). */
    config?: Record<string, unknown> | ((upstream: ScriptedUpstream) => Record<string, unknown>);
    env?: Record<string, string>;
    upstream?: ScriptedUpstreamOptions;
  } = {},
): Promise<ModelsServer> {
  const upstream = await startScriptedUpstream({ apiKey: upstreamKey, ...options.upstream });
  const dir = mkdtempSync(join(tmpdir(), 'causerie-models-'));
  const configPath = join(dir, 'causerie.json');
  writeFileSync(
    configPath,
    JSON.stringify((typeof options.config === 'function' ? options.config(upstream) : options.config) ?? {}),
  );
  const cleanup = async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const server = await startTestServer({
      dialect,
      env: {
        OPENAI_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: upstreamKey,
        CAUSERIE_CONFIG: configPath,
        CAUSERIE_MODELS_REFRESH: '0',
        ...options.env,
      },
    });
    return {
      server,
      upstream,
      async stop() {
        await server.stop();
        await cleanup();
      },
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** The data fields of an SSE body, in order (comments and event names left out). */
export function sseData(text: string): string[] {
  return text
    .split(/\n\n/)
    .map((frame) =>
      frame
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.slice(line.startsWith('data: ') ? 6 : 5))
        .join('\n'),
    )
    .filter(Boolean);
}

/** The usage ledger, oldest first. */
export const usageRows = (server: TestServer) =>
  server.services.sql.db.selectFrom('usage_records').selectAll().orderBy('id').execute();

export { eventually } from '../helpers/eventually.ts';
