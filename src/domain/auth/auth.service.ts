import { createHmac, randomBytes } from 'node:crypto';
import { AppError } from '../errors.ts';
import { isoAt, type Clock } from '../clock.ts';
import { newUuid } from '../ids.ts';
import { randomToken, sha256 } from '../secrets.ts';
import { looksLikeApiKey, type ApiKeysService } from '../api-keys/api-keys.service.ts';
import type { ApiKeyRow } from '../api-keys/api-keys.store.ts';
import { decoyHash, hashPassword, verifyPassword } from '../users/passwords.ts';
import {
  checkPasswordRules,
  toUser,
  usernameKey,
  type Actor,
  type User,
  type UsersService,
} from '../users/users.service.ts';
import type { UsersStore } from '../users/users.store.ts';
import type { ClusterEvent } from '../../stores/kv/cluster-events.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PrincipalCache } from './principal-cache.ts';
import type { RefreshTokensStore } from './refresh-tokens.store.ts';

// jose (~50 modules) loads with the first access token to sign or check, not at start-up (decision 026).
let jose: Promise<typeof import('jose')> | undefined;
const loadJose = () => {
  // A failed load (out of file descriptors, say) is tried again by the next token, not kept.
  jose ??= import('jose').catch((error) => {
    jose = undefined;
    throw error;
  });
  return jose;
};

export type CredentialKind = 'api_key' | 'access_token' | 'basic';

/** The authenticated caller of a request. */
export interface Principal extends Actor {
  user: User;
  via: CredentialKind;
  apiKey?: ApiKeyRow;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  refresh_token: string;
}

/** RFC 6749 section 5.2 error codes, carried on AppError for the OAuth surface. */
export class OAuthError extends AppError {
  readonly oauthCode: string;
  constructor(
    oauthCode: 'invalid_request' | 'invalid_grant' | 'unsupported_grant_type' | 'invalid_client',
    message: string,
  ) {
    super(oauthCode === 'invalid_client' ? 'unauthorized' : 'validation_failed', message);
    this.oauthCode = oauthCode;
  }
}

const unauthorized = (message: string) => new AppError('unauthorized', message);
const guesses = new Set(['Invalid API key', 'Invalid access token']);

export interface AuthDeps {
  users: UsersService;
  usersStore: UsersStore;
  apiKeys: ApiKeysService;
  refreshTokens: RefreshTokensStore;
  clock: Clock;
  tokenSecret: string;
  accessTokenSeconds: number;
  refreshTokenSeconds: number;
  loginThrottle: LoginThrottle;
  /** Principals of API keys and access tokens already checked (none: every request looks them up). */
  principals?: PrincipalCache;
  /** Tells every process that sign-ins ended, so their caches drop the access tokens. */
  publish?: (event: ClusterEvent) => Promise<void>;
}

// Basic sends the password on every request: a right one is remembered for a while, so a client
// making many requests pays for one argon2 check, and its concurrent requests never look like a
// burst of guesses to the throttle. Keyed by an HMAC under a per-process secret, in memory only.
const verifiedCacheMs = 5 * 60_000;
const verifiedCacheSize = 1000;

export class AuthService {
  private readonly key: Uint8Array;
  private readonly pepper = randomBytes(32);
  private readonly verified = new Map<string, { hash: string; until: number }>();
  private readonly verifying = new Map<string, Promise<User>>();

  private readonly deps: AuthDeps;

  constructor(deps: AuthDeps) {
    this.deps = deps;
    this.key = new TextEncoder().encode(deps.tokenSecret);
  }

  /** Resolves an Authorization header (Bearer API key, Bearer access token, or Basic) to a principal. */
  async authenticate(header: string | undefined, address: string): Promise<Principal> {
    if (!header) throw unauthorized('Authentication required: send Authorization: Bearer <api_key or access_token>');
    const space = header.indexOf(' ');
    const scheme = header.slice(0, space).toLowerCase();
    const credential = header.slice(space + 1).trim();
    if (space < 0 || !credential) throw unauthorized('Malformed Authorization header');
    if (scheme === 'bearer') {
      try {
        return await (looksLikeApiKey(credential) ? this.byApiKey(credential) : this.byAccessToken(credential));
      } catch (error) {
        // A key that exists (revoked, expired) or a signed token is no guess; one naming nothing is.
        // Only guesses wait: a right key from the same (perhaps shared) address still gets in, so
        // nobody can lock a whole office out by sending junk from behind its NAT.
        if (error instanceof AppError && guesses.has(error.message)) {
          this.deps.loginThrottle.assertNotGuessing(address);
          await this.deps.loginThrottle.guessed(address);
        }
        throw error;
      }
    }
    if (scheme === 'basic') {
      const decoded = Buffer.from(credential, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthorized('Malformed Basic credentials');
      const user = await this.checkPassword(decoded.slice(0, colon), decoded.slice(colon + 1), address);
      return { user, userId: user.id, role: user.role, via: 'basic' };
    }
    // The scheme is echoed only when it looks like one: a misplaced key or token ("Authorization: API_...") never is.
    const named = /^[a-z][a-z-]{0,19}$/.test(scheme) ? ` "${scheme}"` : '';
    throw unauthorized(`Unsupported authorization scheme${named}`);
  }

  private async byApiKey(secret: string): Promise<Principal> {
    const cache = this.deps.principals;
    const digest = cache?.digest(secret);
    const cached = digest === undefined ? undefined : cache!.get(digest);
    if (cached) {
      await this.deps.apiKeys.touchIfDue(cached.apiKey!);
      return cached;
    }
    const generation = cache?.begin() ?? 0;
    const apiKey = await this.deps.apiKeys.authenticate(secret);
    const user = await this.activeUser(apiKey.user_id);
    const principal: Principal = {
      user,
      userId: user.id,
      role: user.role,
      via: 'api_key',
      apiKey,
      apiKeyId: apiKey.id,
    };
    const expiresAt = apiKey.expires_at ? Date.parse(apiKey.expires_at) : undefined;
    if (digest !== undefined) cache!.set(digest, principal, generation, expiresAt);
    return principal;
  }

  private async byAccessToken(token: string): Promise<Principal> {
    const cache = this.deps.principals;
    const digest = cache?.digest(token);
    const cached = digest === undefined ? undefined : cache!.get(digest);
    if (cached) return cached;
    const generation = cache?.begin() ?? 0;
    let subject: string | undefined;
    let signIn: unknown;
    let expiresAt = 0;
    const { jwtVerify, errors: joseErrors } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: 'causerie',
        requiredClaims: ['exp', 'iat', 'sub', 'sid'],
        currentDate: new Date(this.deps.clock.now()),
      });
      subject = payload.sub;
      signIn = payload.sid;
      expiresAt = payload.exp! * 1000;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired)
        throw unauthorized('Access token expired: get a new one from POST /oauth/token');
      throw unauthorized('Invalid access token');
    }
    // A signed-out sign-in, or one whose refresh token was stolen and reused, ends its access tokens too.
    if (typeof signIn !== 'string' || (await this.deps.refreshTokens.isFamilyRevoked(signIn)))
      throw unauthorized('This sign-in has been revoked');
    const user = await this.activeUser(Number(subject));
    const principal: Principal = { user, userId: user.id, role: user.role, via: 'access_token' };
    if (digest !== undefined) cache!.set(digest, principal, generation, expiresAt);
    return principal;
  }

  /** Every process forgets the access tokens of this account it had cached. */
  private async signInsEnded(userId: number): Promise<void> {
    await this.deps.publish?.({ type: 'sign-ins-revoked', userId });
  }

  private async activeUser(id: number): Promise<User> {
    const row = await this.deps.usersStore.findById(id);
    if (!row || row.disabled) throw unauthorized('This account is disabled');
    return toUser(row);
  }

  /**
   * Verifies a username and password in constant-ish time whether or not the user exists, once
   * the throttle has reserved the attempt (a wrong password keeps it counted as a failure).
   */
  async checkPassword(username: string, password: string, address: string): Promise<User> {
    // By username only (any case): signing in with an id or a UUID is not a thing.
    const key = usernameKey(username);
    const digest = createHmac('sha256', this.pepper).update(`${key}\0${password}`).digest('base64');
    const known = this.verified.get(digest);
    if (known && known.until > performance.now()) {
      const row = await this.deps.usersStore.findByUsernameKey(key);
      // Still the same password: a changed one (or a removed account) makes this a fresh check.
      if (row && row.password_hash === known.hash) {
        if (row.disabled) throw unauthorized('This account is disabled');
        return toUser(row);
      }
    }
    // The same credentials arriving together (a script using Basic) share one check.
    let check = this.verifying.get(digest);
    if (!check) {
      check = this.verifyOnce(key, password, address, digest).finally(() => this.verifying.delete(digest));
      this.verifying.set(digest, check);
    }
    return check;
  }

  private async verifyOnce(key: string, password: string, address: string, digest: string): Promise<User> {
    const succeeded = await this.deps.loginThrottle.attempt(key, address);
    const row = await this.deps.usersStore.findByUsernameKey(key);
    const ok = await verifyPassword(row?.password_hash ?? decoyHash, password);
    if (!row || !ok) throw unauthorized('Invalid username or password');
    await succeeded();
    if (row.disabled) throw unauthorized('This account is disabled');
    if (this.verified.size >= verifiedCacheSize) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(digest, { hash: row.password_hash, until: performance.now() + verifiedCacheMs });
    return toUser(row);
  }

  /** POST /oauth/token: the password and refresh_token grants of RFC 6749. */
  async grant(input: Record<string, unknown>, address: string): Promise<TokenResponse> {
    const grantType = input.grant_type;
    if (typeof grantType !== 'string' || !grantType) throw new OAuthError('invalid_request', 'grant_type is required');
    if (grantType === 'password') {
      const { username, password } = input;
      if (typeof username !== 'string' || typeof password !== 'string') {
        throw new OAuthError('invalid_request', 'username and password are required for the password grant');
      }
      let user: User;
      try {
        user = await this.checkPassword(username, password, address);
      } catch (error) {
        if (error instanceof AppError && error.code === 'rate_limited') throw error;
        throw new OAuthError('invalid_grant', 'Invalid username or password');
      }
      return this.issue(user.id, newUuid());
    }
    if (grantType === 'refresh_token') {
      if (typeof input.refresh_token !== 'string') throw new OAuthError('invalid_request', 'refresh_token is required');
      return this.refresh(input.refresh_token);
    }
    throw new OAuthError(
      'unsupported_grant_type',
      `grant_type "${grantType}" is not supported; use password or refresh_token`,
    );
  }

  /**
   * Signs out (RFC 7009): the sign-in a refresh or access token belongs to is revoked, with every
   * token it issued. An unknown or invalid token is not an error, as the RFC asks.
   */
  async revoke(token: string): Promise<void> {
    const now = isoAt(this.deps.clock.now());
    const row = await this.deps.refreshTokens.findByHash(sha256(token));
    if (row) {
      await this.deps.refreshTokens.revokeFamily(row.family, now);
      return this.signInsEnded(row.user_id);
    }
    const { jwtVerify } = await loadJose();
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: 'causerie',
        requiredClaims: ['sid'],
        currentDate: new Date(this.deps.clock.now()),
      });
      if (typeof payload.sid !== 'string') return;
      await this.deps.refreshTokens.revokeFamily(payload.sid, now);
      if (typeof payload.sub === 'string') await this.signInsEnded(Number(payload.sub));
    } catch {}
  }

  /**
   * Changes the caller's password after checking the current one (throttled like any sign-in),
   * then ends every sign-in of the account: its access and refresh tokens stop working. API keys
   * are not sign-ins and keep working (revoke them with DELETE /api/v1/keys/{id}).
   */
  async changePassword(actor: Actor, input: { current: string; next: string }, address: string): Promise<void> {
    const row = await this.deps.usersStore.findById(actor.userId);
    if (!row) throw unauthorized('This account is disabled');
    try {
      await this.checkPassword(row.username, input.current, address);
    } catch (error) {
      if (error instanceof AppError && error.code === 'unauthorized')
        throw new AppError('validation_failed', "current_password: is not this account's password", {
          field: 'current_password',
        });
      throw error;
    }
    checkPasswordRules('new_password', input.next);
    const now = isoAt(this.deps.clock.now());
    await this.deps.usersStore.update(row.id, { password_hash: await hashPassword(input.next), updated_at: now });
    await this.deps.refreshTokens.revokeAllOfUser(row.id, now);
    await this.signInsEnded(row.id);
  }

  /** Ends every sign-in of the caller's account (all access and refresh tokens); returns how many. */
  async signOutEverywhere(actor: Actor): Promise<number> {
    const ended = await this.deps.refreshTokens.revokeAllOfUser(actor.userId, isoAt(this.deps.clock.now()));
    await this.signInsEnded(actor.userId);
    return ended;
  }

  /** Rotates a refresh token; presenting one twice revokes its whole family (theft detection). */
  private async refresh(token: string): Promise<TokenResponse> {
    const now = this.deps.clock.now();
    const row = await this.deps.refreshTokens.findByHash(sha256(token));
    if (!row || row.revoked_at || Date.parse(row.expires_at) <= now)
      throw new OAuthError('invalid_grant', 'Invalid or expired refresh token');
    await loadJose(); // before the token is spent: a failure to load must not cost the caller its sign-in
    if (row.used_at || !(await this.deps.refreshTokens.markUsed(row.id, isoAt(now)))) {
      await this.deps.refreshTokens.revokeFamily(row.family, isoAt(now));
      await this.signInsEnded(row.user_id);
      throw new OAuthError('invalid_grant', 'Refresh token already used; all tokens of this login are revoked');
    }
    const user = await this.deps.usersStore.findById(row.user_id);
    if (!user || user.disabled) throw new OAuthError('invalid_grant', 'This account is disabled');
    return this.issue(row.user_id, row.family);
  }

  private async issue(userId: number, family: string): Promise<TokenResponse> {
    const now = this.deps.clock.now();
    const seconds = Math.floor(now / 1000);
    // sid: the sign-in (refresh-token family) this token belongs to, so revoking it ends the token.
    const { SignJWT } = await loadJose();
    const accessToken = await new SignJWT({ sid: family })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(String(userId))
      .setIssuer('causerie')
      .setIssuedAt(seconds)
      .setExpirationTime(seconds + this.deps.accessTokenSeconds)
      .setJti(newUuid())
      .sign(this.key);
    const refreshToken = randomToken();
    await this.deps.refreshTokens.insert({
      user_id: userId,
      hash: sha256(refreshToken),
      family,
      created_at: isoAt(now),
      expires_at: isoAt(now + this.deps.refreshTokenSeconds * 1000),
      used_at: null,
      revoked_at: null,
    });
    return {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: this.deps.accessTokenSeconds,
      refresh_token: refreshToken,
    };
  }
}
