import type { Llama } from 'node-llama-cpp';

/** Where llama.cpp's own messages go (warnings and errors only). */
export interface LocalLogger {
  info(data: object, message: string): void;
  warn(data: object, message: string): void;
}

export type LlamaModule = typeof import('node-llama-cpp');

let runtime: Promise<{ module: LlamaModule; llama: Llama }> | undefined;

/**
 * The llama.cpp binding, loaded on first use and shared by the whole process: a server that
 * serves no local model never pays for loading the native library. The prebuilt CPU binary is
 * used as shipped (no GPU probing, never a source build at run time, which needs a toolchain and
 * minutes). The first caller's logger receives llama.cpp's warnings.
 */
export function llamaRuntime(logger?: LocalLogger): Promise<{ module: LlamaModule; llama: Llama }> {
  runtime ??= (async () => {
    const module = await import('node-llama-cpp');
    const llama = await module.getLlama({
      gpu: false,
      build: 'never',
      logLevel: module.LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim();
        if (!text) return;
        if (
          level === module.LlamaLogLevel.error ||
          level === module.LlamaLogLevel.fatal ||
          level === module.LlamaLogLevel.warn
        ) {
          logger?.warn({ source: 'llama.cpp', level }, text);
        } else logger?.info({ source: 'llama.cpp', level }, text);
      },
    });
    return { module, llama };
  })();
  runtime.catch(() => {
    // A failed load (missing binary) is reported to its caller; the next call tries again.
    runtime = undefined;
  });
  return runtime;
}
