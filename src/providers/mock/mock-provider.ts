import type { ChatRequest, Provider, ProviderModel, ProviderStreamEvent, Usage } from '../provider.ts';
import { OpenAiCompatibleProvider, type ProviderTimeouts } from '../openai-compatible/openai-compatible-provider.ts';
import { startScriptedUpstream, type ScriptedUpstream } from './scripted-upstream.ts';

/** Models of the mock provider; public ids "mock/echo" and "mock/embed". */
export const mockModels = ['echo', 'embed'];

/**
 * The `mock` provider (CAUSERIE_MOCK_PROVIDER=true): the scripted upstream, started on loopback at
 * first use, behind the real OpenAI-compatible adapter. Users' client tests thus go through the
 * same wire format, timeouts and failure paths as a real provider, scripted by [[directives]].
 */
export function createMockProvider(options: { timeouts: ProviderTimeouts }): Provider {
  let started: Promise<{ upstream: ScriptedUpstream; adapter: OpenAiCompatibleProvider }> | undefined;
  let ready: OpenAiCompatibleProvider | undefined;
  const start = () =>
    (started ??= startScriptedUpstream({ models: mockModels, record: false }).then((upstream) => {
      ready = new OpenAiCompatibleProvider({
        id: 'mock',
        kind: 'mock',
        baseUrl: upstream.baseUrl,
        timeouts: options.timeouts,
        retries: 0,
      });
      return { upstream, adapter: ready };
    }));
  return {
    id: 'mock',
    kind: 'mock',
    async stream(
      request: ChatRequest,
      streamOptions: { signal: AbortSignal },
    ): Promise<AsyncIterable<ProviderStreamEvent>> {
      return (await start()).adapter.stream(request, streamOptions);
    },
    async embed(
      input: string[],
      model: string,
      embedOptions: { signal: AbortSignal },
    ): Promise<{ embeddings: number[][]; usage: Usage }> {
      return (await start()).adapter.embed(input, model, embedOptions);
    },
    async listModels(): Promise<ProviderModel[]> {
      return mockModels.map((id) => ({ id }));
    },
    connectionStats() {
      return (
        ready?.connectionStats() ?? {
          provider: 'mock',
          max: null,
          active: 0,
          waiting: 0,
          waitedTotal: 0,
          timedOutTotal: 0,
        }
      );
    },
    async close() {
      if (!started) return;
      const { upstream, adapter } = await started;
      await adapter.close();
      await upstream.close();
    },
  };
}
