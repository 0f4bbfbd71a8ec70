import type { Config } from '../../config.ts';
import {
  downloadModel,
  formatMegabytes,
  type ModelSource,
  resolveModelSource,
} from '../../providers/local/model-download.ts';
import { localModelId } from '../../providers/local/local-models.ts';
import { outboundPolicy } from '../../providers/web/connect-guard.ts';
import type { ModelsService } from './models.service.ts';

/** Where the download reports: the server's logger. */
export interface AutoPullLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface AutoPull {
  /** Settles when the download has ended (done, failed or stopped); never rejects. */
  done: Promise<void>;
  /** Stops the download (server shutdown); the .part file is kept, so the next start resumes. */
  stop(): void;
}

/**
 * The first run that answers: when no provider is configured and no local model is present, the
 * default local model is downloaded in the background, so chatting works without a third command.
 * Progress goes to the log (each tenth) and to GET /api/v1/models (`status: "downloading"`,
 * `progress`); a failure is logged and shown as the model's reason, and the server stays up.
 * Returns undefined when there is nothing to do (CAUSERIE_AUTO_PULL=false, or a model can serve).
 */
export async function startAutoPull(deps: {
  config: Config;
  models: ModelsService;
  log: AutoPullLog;
  fetch?: typeof fetch;
}): Promise<AutoPull | undefined> {
  const { config, models, log } = deps;
  if (!config.autoPull) return undefined;
  const listed = await models.list();
  const nothingServes = listed.every((model) => model.source === 'local' && !model.available);
  if (!nothingServes || !listed.some((model) => model.status === 'not_downloaded')) return undefined;
  let source: ModelSource;
  try {
    source = resolveModelSource(config.autoPullUri);
  } catch (error) {
    log.warn({ detail: (error as Error).message }, 'CAUSERIE_AUTO_PULL_URI is not a model source: nothing downloaded');
    return undefined;
  }
  const { fileName } = source;
  const model = localModelId(fileName);
  const controller = new AbortController();
  log.info(
    { model, from: source.host },
    'no model can answer yet: downloading the default local model in the background (CAUSERIE_AUTO_PULL=false turns this off)',
  );
  await models.trackDownload(fileName, {});
  let loggedTenth = -1;
  const done = downloadModel({
    source,
    modelsDir: config.modelsDir,
    signal: controller.signal,
    fetch: deps.fetch,
    outbound: outboundPolicy(config),
    onProgress: ({ received, total }) => {
      const progress = total ? Math.floor((received / total) * 100) / 100 : undefined;
      void models.trackDownload(fileName, { progress });
      const tenth = progress === undefined ? -1 : Math.floor(progress * 10);
      if (tenth > loggedTenth) {
        loggedTenth = tenth;
        log.info(
          { model, progress, received: formatMegabytes(received), total: total ? formatMegabytes(total) : null },
          'downloading the default local model',
        );
      }
    },
  }).then(
    async (result) => {
      await models.trackDownload(fileName, undefined);
      log.info({ model, size: formatMegabytes(result.bytes) }, `download finished: model "${model}" is available`);
    },
    async (error: unknown) => {
      const detail = controller.signal.aborted
        ? 'stopped with the server; the next start resumes it'
        : (error as Error).message;
      await models.trackDownload(fileName, { failure: detail });
      if (!controller.signal.aborted)
        log.warn({ model, detail }, 'download of the default local model failed; the server goes on without it');
    },
  );
  return { done, stop: () => controller.abort() };
}
