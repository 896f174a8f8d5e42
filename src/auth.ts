import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { UnauthenticatedError } from './domain/errors.js';
import type { Caller } from './domain/order/index.js';

const encoder = new TextEncoder();

/**
 * Reads `Bearer <JWT>`: HS256 only (a token claiming `none` or any other algorithm is refused),
 * `exp` and `nbf` honoured. No header means an anonymous caller (null); a bad one is an error.
 */
export async function authenticate(authorization: string | null | undefined, secret: string): Promise<Caller | null> {
  if (authorization == null || authorization === '') return null;
  const match = /^Bearer\s+(\S+)$/i.exec(authorization);
  if (!match) throw new UnauthenticatedError('authorization must be "Bearer <token>"');
  try {
    const { payload } = await jwtVerify(match[1]!, encoder.encode(secret), { algorithms: ['HS256'] });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new UnauthenticatedError('token has no subject');
    const roles = Array.isArray(payload.roles) ? payload.roles.filter((role): role is string => typeof role === 'string') : [];
    return { userId: payload.sub, roles };
  } catch (error) {
    if (error instanceof UnauthenticatedError) throw error;
    if (error instanceof joseErrors.JWTExpired) throw new UnauthenticatedError('token expired');
    if (error instanceof joseErrors.JWTClaimValidationFailed) throw new UnauthenticatedError(`token rejected: ${error.claim} claim`);
    throw new UnauthenticatedError('invalid token');
  }
}

export function signToken(userId: string, secret: string, options: { admin?: boolean; expiresIn?: string } = {}): Promise<string> {
  return new SignJWT({ roles: options.admin ? ['admin'] : [] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '30d')
    .sign(encoder.encode(secret));
}
