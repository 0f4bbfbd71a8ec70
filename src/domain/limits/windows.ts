/** The fixed UTC windows quotas count in. A window is [start, end); its tag names it in keys. */
export type WindowName = 'minute' | 'day' | 'month';

export interface Window {
  start: number;
  end: number;
  tag: string;
}

const minuteMs = 60_000;
const dayMs = 86_400_000;

// The last window computed per kind: nearly every call falls in it, and its tag costs a Date.
const recent: Partial<Record<WindowName, Window>> = {};

export function windowAt(name: WindowName, now: number): Window {
  const last = recent[name];
  if (last && now >= last.start && now < last.end) return last;
  const window = computeWindow(name, now);
  recent[name] = window;
  return window;
}

function computeWindow(name: WindowName, now: number): Window {
  if (name === 'minute') {
    const start = Math.floor(now / minuteMs) * minuteMs;
    return { start, end: start + minuteMs, tag: `m${new Date(start).toISOString().slice(0, 16)}` };
  }
  if (name === 'day') {
    const start = Math.floor(now / dayMs) * dayMs;
    return { start, end: start + dayMs, tag: `d${new Date(start).toISOString().slice(0, 10)}` };
  }
  const date = new Date(now);
  const start = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1);
  const end = Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1);
  return { start, end, tag: `M${new Date(start).toISOString().slice(0, 7)}` };
}

/** Whole seconds until `at`, at least 1: what Retry-After and X-RateLimit-Reset show. */
export const secondsUntil = (at: number, now: number) => Math.max(1, Math.ceil((at - now) / 1000));
