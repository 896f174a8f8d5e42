import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { UnauthenticatedError } from './domain/errors.js';
import type { Caller } from './domain/order/index.js';

const encoder = new TextEncoder();

/** Seconds a token's `exp` and `nbf` may be off, to absorb clock drift between issuer and replicas. */
export const clockToleranceSeconds = 30;
/** A user id is stored with every event it causes; anything longer, or with control characters, is not one we issued. */
const maxSubjectLength = 256;

/** How tokens are checked: the HS256 secret, and the `iss` / `aud` a token must carry when set. */
export interface TokenRules {
  secret: string;
  issuer?: string | undefined;
  audience?: string | undefined;
}

/**
 * Reads `Bearer <JWT>`: HS256 only (a token claiming `none`, RS256 or any other algorithm is refused
 * before its signature is looked at), `exp` required, `exp` and `nbf` honoured within
 * `clockToleranceSeconds`, `iss` and `aud` checked when the rules name them. No header means an
 * anonymous caller (null); a bad one is an UnauthenticatedError saying why.
 */
export async function authenticate(authorization: string | null | undefined, rules: TokenRules | string): Promise<Caller | null> {
  const checked = typeof rules === 'string' ? { secret: rules } : rules;
  return (await verifyWithExpiry(bearer(authorization), checked, encoder.encode(checked.secret)))?.caller ?? null;
}

function bearer(authorization: string | null | undefined): string | null {
  if (authorization == null || authorization === '') return null;
  const match = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('authorization must be "Bearer <token>"');
  return match[1]!;
}

async function verifyWithExpiry(token: string | null, rules: TokenRules, key: Uint8Array, nowSeconds?: number): Promise<{ caller: Caller; exp: number } | null> {
  if (token === null) return null;
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      clockTolerance: clockToleranceSeconds,
      requiredClaims: ['exp'],
      ...(nowSeconds === undefined ? {} : { currentDate: new Date(nowSeconds * 1000) }),
      ...(rules.issuer ? { issuer: rules.issuer } : {}),
      ...(rules.audience ? { audience: rules.audience } : {}),
    });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new UnauthenticatedError('token has no subject');
    if (payload.sub.length > maxSubjectLength) throw new UnauthenticatedError(`token subject is longer than ${maxSubjectLength} characters`);
    if (/[\u0000-\u001f\u007f]/.test(payload.sub)) throw new UnauthenticatedError('token subject contains control characters');
    if (/\p{Cs}/u.test(payload.sub)) throw new UnauthenticatedError('token subject is not well-formed Unicode');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((role): role is string => typeof role === 'string') : [];
    return { caller: { userId: payload.sub, roles }, exp: payload.exp! };
  } catch (error) {
    throw error instanceof UnauthenticatedError ? error : new UnauthenticatedError(reason(error));
  }
}

/**
 * The server's authenticator: the key is imported once, and a verified token is remembered until its
 * `exp` (plus the clock tolerance, as jose allows), so a client that sends the same token with every
 * request pays for one HMAC, not one per request. Refusals are not remembered: a bad token costs its
 * sender a verification each time, never a cache slot.
 */
export function createAuthenticator(rules: TokenRules, { maxCached = 10_000, now = () => Date.now() / 1000 } = {}) {
  const key = encoder.encode(rules.secret);
  const verified = new Map<string, { caller: Caller; expiresAt: number }>();
  // Verifications under way, by token: the operations of a batch (or requests racing in with a new token)
  // share one, so they pay for one HMAC and go on in the order they asked. Each verifying on its own, they
  // went on in the order WebCrypto's thread pool finished them, and a batch's rate limit refused its
  // first operation and ran its sixth. Emptied as each settles, so a refusal is not remembered either.
  const verifying = new Map<string, Promise<Caller>>();
  const verify = async (token: string): Promise<Caller> => {
    try {
      const result = (await verifyWithExpiry(token, rules, key, now()))!;
      if (verified.size >= maxCached) verified.delete(verified.keys().next().value!); // the oldest entry
      verified.set(token, { caller: result.caller, expiresAt: result.exp + clockToleranceSeconds });
      return result.caller;
    } finally {
      verifying.delete(token);
    }
  };
  return async (authorization: string | null | undefined): Promise<Caller | null> => {
    const token = bearer(authorization);
    if (token === null) return null;
    const hit = verified.get(token);
    if (hit && hit.expiresAt > now()) return hit.caller;
    verified.delete(token);
    let pending = verifying.get(token);
    if (!pending) verifying.set(token, (pending = verify(token)));
    return pending;
  };
}

function reason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return 'token is not valid yet (nbf)';
    if (error.claim === 'exp') return 'token has no expiry (exp)';
    return `token rejected: ${error.claim} claim`;
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return 'token must be signed with HS256';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  return 'token is malformed';
}

export function signToken(userId: string, secret: string, options: { admin?: boolean; expiresIn?: string; issuer?: string; audience?: string } = {}): Promise<string> {
  const token = new SignJWT({ roles: options.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '30d');
  if (options.issuer) token.setIssuer(options.issuer);
  if (options.audience) token.setAudience(options.audience);
  return token.sign(encoder.encode(secret));
}
