import { availableParallelism } from 'node:os';
import { hash, verify } from '@node-rs/argon2';

// argon2id with OWASP's recommended floor (19 MiB, 2 passes).
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

// At most this many hashes at once: a flood of sign-ins queues here instead of taking every
// libuv thread (which file and DNS work share) and 19 MiB of memory per attempt.
const maxHashing = Math.max(2, availableParallelism());
let hashing = 0;
const waiting: Array<() => void> = [];

async function bounded<T>(work: () => Promise<T>): Promise<T> {
  if (hashing >= maxHashing) await new Promise<void>((resolve) => waiting.push(resolve));
  else hashing++;
  try {
    return await work();
  } finally {
    // Hand the slot straight to the next waiter, or free it.
    const next = waiting.shift();
    if (next) next();
    else hashing--;
  }
}

export const hashPassword = (password: string) => bounded(() => hash(password, options));

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await bounded(() => verify(passwordHash, password));
  } catch {
    return false;
  }
}

// A hash to verify against when the user does not exist, so timing does not reveal usernames.
export const decoyHash = await hashPassword('decoy-password-never-matches');
