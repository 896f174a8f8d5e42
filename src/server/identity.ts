import { createAuthenticator, type TokenRules } from '../auth.js';
import { UnauthenticatedError } from '../domain/errors.js';
import { callerKey as keyOfCaller } from '../keys.js';
import type { Identity } from './context.js';

export interface Identities {
  /** The caller an Authorization value names, or why it was refused. */
  identify(authorization: unknown): Promise<Identity>;
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
  return {
    identify,
    callerKey: (identity, address) => keyOfCaller(identity.caller?.userId, address),
  };
}

const correlationIdPattern = /^[A-Za-z0-9._:-]{1,128}$/;
export const validCorrelationId = (value: unknown) => (typeof value === 'string' && correlationIdPattern.test(value) ? value : null);
