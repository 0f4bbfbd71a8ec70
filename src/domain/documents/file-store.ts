import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const shaPattern = /^[0-9a-f]{64}$/;

/**
 * Uploaded files on disk, named by the SHA-256 of their content (`<dir>/<first two hex>/<sha>`):
 * the same content is stored once, and a name never comes from the user.
 */
export class FileStore {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private pathOf(sha256: string): string {
    if (!shaPattern.test(sha256)) throw new Error('not a sha256');
    return join(this.dir, sha256.slice(0, 2), sha256);
  }

  /** Stores the bytes (once per content) and returns their SHA-256. Written to a temporary name, then renamed: never half a file. */
  async put(data: Uint8Array): Promise<string> {
    const sha256 = createHash('sha256').update(data).digest('hex');
    const path = this.pathOf(sha256);
    const exists = await stat(path).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await mkdir(join(this.dir, sha256.slice(0, 2)), { recursive: true });
      const temporary = `${path}.${randomUUID()}.tmp`;
      await writeFile(temporary, data, { mode: 0o600 });
      await rename(temporary, path);
    }
    return sha256;
  }

  read(sha256: string): Promise<Buffer> {
    return readFile(this.pathOf(sha256));
  }

  async remove(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }

  /**
   * Removes stored files no row references any more (their session was deleted), if older than
   * `olderThanMs` so a file being uploaded right now, not yet in the database, is spared.
   */
  async sweep(referenced: ReadonlySet<string>, olderThanMs: number, now: number): Promise<number> {
    let removed = 0;
    const folders = await readdir(this.dir).catch(() => [] as string[]);
    for (const folder of folders) {
      for (const name of await readdir(join(this.dir, folder)).catch(() => [] as string[])) {
        const path = join(this.dir, folder, name);
        const info = await stat(path).catch(() => undefined);
        if (!info || now - info.mtimeMs < olderThanMs) continue;
        if (shaPattern.test(name) && referenced.has(name)) continue;
        await rm(path, { force: true });
        removed++;
      }
    }
    return removed;
  }
}
