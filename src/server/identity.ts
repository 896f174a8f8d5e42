import { createAuthenticator, type TokenRules } from '../auth.js';
import { UnauthenticatedError } from '../domain/errors.js';
import { callerKey as keyOfCaller } from '../keys.js';
import type { Identity } from './context.js';

export interface Identities {
  /** The caller an Authorization value names, or why it was refused. */
  identify(authorization: unknown): Promise<Identity>;
  /** The same for an HTTP request, verified once however many plugins ask. */
  ofRequest(request: Request): Promise<Identity>;
  /** Whom the rate limit and the connection cap count: the user, or the address of an anonymous caller. */
  callerKey(identity: Identity, address: string | undefined): string;
}

export function createIdentities(tokens: TokenRules): Identities {
  const authenticate = createAuthenticator(tokens);
  const identify = async (authorization: unknown): Promise<Identity> => {
    if (authorization != null && typeof authorization !== 'string')
      return { caller: null, authError: new UnauthenticatedError('authorization must be "Bearer <token>"') };
    try {
      return { caller: await authenticate(authorization), authError: null };
    } catch (error) {
      if (!(error instanceof UnauthenticatedError)) throw error;
      return { caller: null, authError: error };
    }
  };
  // The rate limiter and the context both need the caller: verify each HTTP request's token once.
  const identities = new WeakMap<Request, Promise<Identity>>();
  return {
    identify,
    ofRequest(request) {
      let identity = identities.get(request);
      if (!identity) identities.set(request, (identity = identify(request.headers.get('authorization'))));
      return identity;
    },
    callerKey: (identity, address) => keyOfCaller(identity.caller?.userId, address),
  };
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
export const validCorrelationId = (value: unknown) => (typeof value === 'string' && correlationIdPattern.test(value) ? value : null);
