import type { Provider, ProviderModel } from '../../providers/provider.ts';
import { defaultLocalModel, localContextSize } from '../../providers/local/local-models.ts';
import type { ConnectionStats } from '../../providers/openai-compatible/connection-slots.ts';
import { isoAt, type Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { howToEnable, type ModelSpec, type Prices, type ProviderSpec } from './models.config.ts';
import type { RemovedModelsStore } from './models.store.ts';

/** A model as the registry knows it. */
export interface ModelEntry {
  /** Public id, e.g. "mistral/mistral-small-latest". */
  id: string;
  provider: string;
  /** The model name the provider knows (for local models, the GGUF file name). */
  upstream: string;
  contextWindow?: number;
  prices?: Prices;
  capabilities: string[];
  /** config: mapped by the config file; discovered: from the provider's GET /v1/models; local: a GGUF file (or the default one to pull). */
  source: 'config' | 'discovered' | 'local';
  /** Local models: whether the GGUF file is in the models folder. */
  downloaded?: boolean;
}

/** A model as GET /api/v1/models shows it: whether it can serve, and if not, what to do. */
export interface ModelView {
  id: string;
  provider: string;
  upstream_model: string;
  available: boolean;
  status: 'available' | 'not_downloaded' | 'downloading' | 'not_configured';
  /** While the first-start download runs: the fraction received, when the size is known. */
  progress?: number;
  /** When not available: why, and how to fix it. */
  reason: string | null;
  context_window: number | null;
  capabilities: string[];
  prices: { input_per_million: number; output_per_million: number; currency: string } | null;
  source: ModelEntry['source'];
}

/** A GGUF file in the models folder, as the registry lists it. */
export interface LocalModelFile {
  id: string;
  file: string;
  contextWindow?: number | null;
}

export interface ModelsDeps {
  /** The providers the configuration declares (those without their key included, to say why). */
  specs: ProviderSpec[];
  /** Public model ids the config file maps. */
  mapped: ModelSpec[];
  /** The provider adapters, built by the composition root (the local engine's included when it is wired). */
  providers: Provider[];
  /** The local engine's provider id, when it is wired. */
  localProviderId?: string;
  /** The GGUF files in the models folder. */
  listLocalFiles(): Promise<LocalModelFile[]>;
  store: RemovedModelsStore;
  clock: Clock;
  /** Where discovery failures are reported (never with a key). */
  warn?: (message: string) => void;
}

const discoveryTimeoutMs = 10_000;

/**
 * The model registry: providers from the environment and the config file, their models (mapped by
 * config, or discovered from GET /v1/models and refreshed periodically), the local GGUF models,
 * minus those an administrator removed. Completions resolve public ids through it.
 */
export class ModelsService {
  private readonly deps: ModelsDeps;
  private readonly providers = new Map<string, Provider>();
  private readonly specs: Map<string, ProviderSpec>;
  private readonly mapped: ModelSpec[];
  private readonly discovered = new Map<string, ProviderModel[]>();
  private entries = new Map<string, ModelEntry>();
  private removed = new Set<string>();
  /** The first-start download of a local model (see AutoPull): progress, or why it failed. */
  private downloads = new Map<string, { progress?: number; failure?: string }>();
  private localFiles: LocalModelFile[] = [];
  private readonly ready: Promise<void>;
  private refreshing: Promise<void> | undefined;

  /** Call refresh() again to follow the providers' lists (the composition root sets the period). */
  constructor(deps: ModelsDeps) {
    this.deps = deps;
    this.specs = new Map(deps.specs.map((spec) => [spec.id, spec]));
    this.mapped = deps.mapped;
    for (const provider of deps.providers) this.providers.set(provider.id, provider);
    this.ready = this.refresh();
  }

  /** Every model (removed ones left out), available or not, sorted by id. */
  async list(): Promise<ModelView[]> {
    await this.ready;
    return [...this.entries.values()].map((entry) => this.view(entry));
  }

  async get(id: string): Promise<ModelView> {
    return this.view(await this.entry(id));
  }

  /**
   * The entry and provider that serve a public model id. Throws not_found for an unknown or removed
   * id, and model_unavailable (503) with what to do when it cannot serve now.
   */
  async resolve(id: string): Promise<{ entry: ModelEntry; provider: Provider }> {
    let entry = await this.entry(id);
    if (entry.source === 'local' && !entry.downloaded) {
      await this.refreshLocal(); // pulled while we run?
      entry = await this.entry(id);
    }
    const provider = this.providers.get(entry.provider);
    const reason = this.unavailableReason(entry, provider);
    if (reason || !provider) throw new AppError('model_unavailable', `Model "${id}" is not available: ${reason}`);
    return { entry, provider };
  }

  /** Removes a model from the registry for good (it stays removed after restarts and refreshes). */
  async remove(id: string): Promise<{ id: string; removed_at: string }> {
    await this.entry(id);
    const removedAt = isoAt(this.deps.clock.now());
    await this.deps.store.insert(id, removedAt);
    this.removed.add(id);
    this.entries.delete(id);
    return { id, removed_at: removedAt };
  }

  /**
   * Records the state of a background download of a local model file (undefined: over and
   * succeeded); the listing shows it until the file is in the folder.
   */
  async trackDownload(fileName: string, state: { progress?: number; failure?: string } | undefined): Promise<void> {
    if (state) this.downloads.set(fileName, state);
    else {
      this.downloads.delete(fileName);
      await this.refreshLocal();
    }
  }

  /** The models an administrator removed, by id (admins restore them with restore()). */
  async listRemoved(): Promise<Array<{ id: string; removed_at: string }>> {
    return (await this.deps.store.list()).map((row) => ({ id: row.model_id, removed_at: row.removed_at }));
  }

  /**
   * Undoes remove(): the model is listed again as soon as its provider or file still offers it
   * (other nodes see it at their next refresh). Throws not_found when it was not removed.
   */
  async restore(id: string): Promise<{ id: string; restored: true; listed: boolean }> {
    await this.ready;
    if (!(await this.deps.store.delete(id)))
      throw new AppError('not_found', `Model "${id}" is not a removed model; GET /api/v1/models/removed lists them`);
    this.removed.delete(id);
    this.rebuild();
    return { id, restored: true, listed: this.entries.has(id) };
  }

  /** Re-reads every provider's model list, the local folder and the removed models. Never throws. */
  refresh(): Promise<void> {
    this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /** Each remote provider's connections: in flight, waiting, turned away (for /metrics). */
  connectionStats(): ConnectionStats[] {
    return [...this.providers.values()].flatMap((provider) => provider.connectionStats?.() ?? []);
  }

  async close(): Promise<void> {
    await this.refreshing?.catch(() => {});
    await Promise.all([...this.providers.values()].map((provider) => provider.close?.().catch(() => {})));
  }

  private async entry(id: string): Promise<ModelEntry> {
    await this.ready;
    const entry = this.entries.get(id);
    if (!entry) throw new AppError('not_found', `Model "${id}" not found; GET /api/v1/models lists the models`);
    return entry;
  }

  private async doRefresh(): Promise<void> {
    const discoverable = [...this.specs.values()].filter(
      (spec) => spec.discover && this.providers.get(spec.id)?.listModels,
    );
    await Promise.all([
      ...discoverable.map(async (spec) => {
        try {
          const models = await this.providers.get(spec.id)!.listModels!({
            signal: AbortSignal.timeout(discoveryTimeoutMs),
          });
          this.discovered.set(
            spec.id,
            models.map((model) => (typeof model === 'string' ? { id: model } : model)),
          );
        } catch (error) {
          // Keep what the last discovery found; the next refresh tries again.
          this.deps.warn?.(`models: discovery from provider "${spec.id}" failed: ${(error as Error).message}`);
        }
      }),
      this.deps.store.listIds().then(
        (ids) => (this.removed = new Set(ids)),
        (error) => this.deps.warn?.(`models: cannot read removed models: ${(error as Error).message}`),
      ),
      this.listLocalFiles(),
    ]);
    this.rebuild();
  }

  private async refreshLocal(): Promise<void> {
    await this.listLocalFiles();
    this.rebuild();
  }

  private async listLocalFiles(): Promise<void> {
    try {
      this.localFiles = await this.deps.listLocalFiles();
    } catch (error) {
      this.deps.warn?.(`models: cannot list local models: ${(error as Error).message}`);
    }
  }

  private rebuild(): void {
    const entries = new Map<string, ModelEntry>();
    const add = (entry: ModelEntry) => {
      if (!entries.has(entry.id) && !this.removed.has(entry.id)) entries.set(entry.id, entry);
    };
    for (const spec of this.mapped) {
      add({
        ...spec,
        capabilities: spec.capabilities ?? ['chat'],
        source: spec.provider === 'local' ? 'local' : 'config',
        downloaded: spec.provider === 'local' ? this.localFiles.some((f) => f.file === spec.upstream) : undefined,
      });
    }
    for (const [provider, models] of this.discovered) {
      for (const model of models) {
        add({
          id: `${provider}/${model.id}`,
          provider,
          upstream: model.id,
          contextWindow: model.contextWindow,
          capabilities: /embed/i.test(model.id) ? ['embeddings'] : ['chat'],
          source: 'discovered',
        });
      }
    }
    const localProvider = this.deps.localProviderId ?? 'local';
    for (const file of this.localFiles) {
      add({
        id: file.id,
        provider: localProvider,
        upstream: file.file,
        contextWindow: file.contextWindow ?? undefined,
        capabilities: ['chat'],
        source: 'local',
        downloaded: true,
      });
    }
    // A local request gets at most localContextSize tokens, whatever the model was trained on.
    const defaultContext = Math.min(defaultLocalModel.contextWindow, localContextSize);
    // Once its file is in the folder (pulled, by hand or by the first-start download), the default's
    // id serves it too, so what the listing showed as "not downloaded" becomes available.
    const defaultFile = this.localFiles.find((f) => f.file === defaultLocalModel.file);
    add({
      id: defaultLocalModel.id,
      provider: localProvider,
      upstream: defaultLocalModel.file,
      contextWindow: defaultFile?.contextWindow ?? defaultContext,
      capabilities: ['chat'],
      source: 'local',
      downloaded: defaultFile !== undefined,
    });
    this.entries = new Map([...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  private unavailableReason(entry: ModelEntry, provider: Provider | undefined): string | undefined {
    if (entry.source === 'local' && !entry.downloaded) {
      return 'it is not downloaded. Run `npm run models:pull` to download it, or configure a provider (set MISTRAL_API_KEY, OPENAI_API_KEY or OLLAMA_BASE_URL; see docs/models.md)';
    }
    if (provider) return undefined;
    if (entry.source === 'local') return 'the local engine is not enabled on this server';
    const spec = this.specs.get(entry.provider);
    if (spec?.keyMissing) return `provider "${entry.provider}" has no key: set ${spec.keyVariable}`;
    return `provider "${entry.provider}" is not configured: ${howToEnable[entry.provider] ?? 'declare it in the config file (see docs/models.md)'}`;
  }

  private view(entry: ModelEntry): ModelView {
    let reason = this.unavailableReason(entry, this.providers.get(entry.provider));
    const download = entry.source === 'local' && !entry.downloaded ? this.downloads.get(entry.upstream) : undefined;
    const downloading = download !== undefined && download.failure === undefined;
    if (downloading) reason = 'it is being downloaded (first start); it will be available when the download ends';
    else if (download?.failure)
      reason = `its download failed: ${download.failure}. Run \`npm run models:pull\` to retry, or configure a provider (see docs/models.md)`;
    return {
      id: entry.id,
      provider: entry.provider,
      upstream_model: entry.upstream,
      available: !reason,
      status: !reason
        ? 'available'
        : downloading
          ? 'downloading'
          : entry.source === 'local' && !entry.downloaded
            ? 'not_downloaded'
            : 'not_configured',
      ...(downloading && download.progress !== undefined ? { progress: download.progress } : {}),
      reason: reason ?? null,
      context_window: entry.contextWindow ?? null,
      capabilities: entry.capabilities,
      prices: entry.prices
        ? {
            input_per_million: entry.prices.input,
            output_per_million: entry.prices.output,
            currency: entry.prices.currency,
          }
        : null,
      source: entry.source,
    };
  }
}
