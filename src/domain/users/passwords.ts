import { availableParallelism } from 'node:os';

// The native argon2 module (~3 MiB) loads with the first password to hash or check: a server at
// rest authenticates API keys, not passwords.
let argon2: Promise<typeof import('@node-rs/argon2')> | undefined;
const library = () => (argon2 ??= import('@node-rs/argon2'));

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

export const hashPassword = (password: string) => bounded(async () => (await library()).hash(password, options));

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await bounded(async () => (await library()).verify(passwordHash, password));
  } catch {
    return false;
  }
}

// A hash to verify against when the user does not exist, so timing does not reveal usernames: the
// same parameters as every stored hash, of a random password nobody kept (a constant, so start-up
// does not spend 19 MiB and two passes computing one).
export const decoyHash =
  '$argon2id$v=19$m=19456,t=2,p=1$lz0s214Aq/FovoXwddbroA$WdFHrHDI2boE5oNpYOD0zV7MXfgjEoNxMukdNsX/Tqk';
