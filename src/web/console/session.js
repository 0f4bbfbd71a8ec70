/**
 * The console's sign-in. The access token is kept in this module's memory only (a reload asks the
 * token route for a new one); the refresh token is an HttpOnly cookie this script never sees.
 */
let accessToken = null;
let renewTimer;
let onSignedOut = () => {};

export function whenSignedOut(callback) {
  onSignedOut = callback;
}

function keep(answer) {
  accessToken = answer.access_token;
  clearTimeout(renewTimer);
  // Renew a little before expiry, so a page left open keeps working.
  renewTimer = setTimeout(() => void renew(), Math.max(5, answer.expires_in - 30) * 1000);
}

async function tokenRequest(path, init) {
  const response = await fetch(path, { ...init, credentials: 'same-origin', cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.detail ?? response.statusText, body.code);
  return body;
}

export async function signIn(username, password) {
  keep(
    await tokenRequest('/console/sign-in', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password }),
    }),
  );
}

let renewing = null;

/**
 * A fresh access token from the cookie; false when there is no usable sign-in. The refresh token
 * is single-use and a replayed one ends the sign-in, so renewals never overlap: one at a time in
 * this page, and one at a time across the console's tabs (a Web Lock), each tab then presenting
 * the cookie the previous renewal set.
 */
export function renew() {
  renewing ??= (navigator.locks ? navigator.locks.request('causerie-console-renew', renewNow) : renewNow()).finally(
    () => {
      renewing = null;
    },
  );
  return renewing;
}

async function renewNow() {
  try {
    keep(await tokenRequest('/console/token', { method: 'POST' }));
    return true;
  } catch {
    accessToken = null;
    return false;
  }
}

export async function signOut() {
  clearTimeout(renewTimer);
  accessToken = null;
  await fetch('/console/token', { method: 'DELETE', credentials: 'same-origin' });
  onSignedOut();
}

export class ApiError extends Error {
  constructor(status, message, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API with the access token; one 401 renews it and retries, a second one signs out. */
export async function api(path, { method = 'GET', body, signal, raw = false } = {}) {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(path, {
      method,
      signal,
      headers: {
        authorization: `Bearer ${accessToken}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401 && attempt === 0 && (await renew())) continue;
    if (response.status === 401) {
      accessToken = null;
      onSignedOut();
    }
    if (raw && response.ok) return response;
    const text = await response.text();
    const parsed = text ? JSON.parse(text) : null;
    if (!response.ok) throw new ApiError(response.status, parsed?.detail ?? response.statusText, parsed?.code);
    return { body: parsed, headers: response.headers };
  }
}
