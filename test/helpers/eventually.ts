/**
 * Polls until `check` returns a value (bounded), for a state another process or task reaches and
 * that announces itself by no event a test can wait on (a row written after a response ended, a
 * background queue worked off). It waits for the state, not for a guessed time.
 */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`timed out waiting for ${options.what ?? 'a condition'}`);
}
