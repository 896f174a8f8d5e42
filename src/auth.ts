import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { UnauthenticatedError } from './domain/errors.js';
import type { Caller } from './domain/order/index.js';

const encoder = new TextEncoder();

/** Seconds a token's `exp` and `nbf` may be off, to absorb clock drift between issuer and replicas. */
export const clockToleranceSeconds = 30;
/** A user id is stored with every event it causes; anything longer, or with control characters, is not one we issued. */
const maxSubjectLength = 256;

/**
 * Reads `Bearer <JWT>`: HS256 only (a token claiming `none`, RS256 or any other algorithm is refused
 * before its signature is looked at), `exp` and `nbf` honoured within `clockToleranceSeconds`.
 * No header means an anonymous caller (null); a bad one is an UnauthenticatedError saying why.
 */
export async function authenticate(authorization: string | null | undefined, secret: string): Promise<Caller | null> {
  if (authorization == null || authorization === '') return null;
  const match = /^Bearer[ \t]+([A-Za-z0-9._~+/=-]+)[ \t]*$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('authorization must be "Bearer <token>"');
  try {
    const { payload } = await jwtVerify(match[1]!, encoder.encode(secret), { algorithms: ['HS256'], clockTolerance: clockToleranceSeconds });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new UnauthenticatedError('token has no subject');
    if (payload.sub.length > maxSubjectLength) throw new UnauthenticatedError(`token subject is longer than ${maxSubjectLength} characters`);
    if (/[\u0000-\u001f\u007f]/.test(payload.sub)) throw new UnauthenticatedError('token subject contains control characters');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((role): role is string => typeof role === 'string') : [];
    return { userId: payload.sub, roles };
  } catch (error) {
    throw error instanceof UnauthenticatedError ? error : new UnauthenticatedError(reason(error));
  }
}

function reason(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'token expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed)
    return error.claim === 'nbf' ? 'token is not valid yet (nbf)' : `token rejected: ${error.claim} claim`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed || error instanceof joseErrors.JOSENotSupported) return 'token must be signed with HS256';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  return 'token is malformed';
}

export function signToken(userId: string, secret: string, options: { admin?: boolean; expiresIn?: string } = {}): Promise<string> {
  return new SignJWT({ roles: options.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '30d')
    .sign(encoder.encode(secret));
}
