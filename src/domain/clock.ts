/** Time behind an object so tests can move it; every service takes one. */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const isoAt = (ms: number) => new Date(ms).toISOString();
