import { createHmac } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { authenticate, clockToleranceSeconds, createAuthenticator, signToken } from '../../src/auth.js';
import { UnauthenticatedError } from '../../src/domain/errors.js';

const secret = 'unit-test-secret-long-enough';
const key = new TextEncoder().encode(secret);
const now = () => Math.floor(Date.now() / 1000);

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');
/** Builds a compact JWS by hand, for headers a well-behaved library refuses to produce. */
function handMade(header: Record<string, unknown>, payload: Record<string, unknown>, sign: (input: string) => string = () => ''): string {
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  return `${input}.${sign(input)}`;
}
const hmac = (alg: 'sha256' | 'sha512') => (input: string) => createHmac(alg, secret).update(input).digest('base64url');

async function refusal(authorization: string): Promise<UnauthenticatedError> {
  const error = await authenticate(authorization, secret).then(
    () => null,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(UnauthenticatedError);
  expect((error as UnauthenticatedError).code).toBe('UNAUTHENTICATED');
  return error as UnauthenticatedError;
}

describe('given no Authorization header', () => {
  it('answers an anonymous caller', async () => {
    expect(await authenticate(undefined, secret)).toBeNull();
    expect(await authenticate('', secret)).toBeNull();
  });
});

describe('given an HS256 token signed with the secret', () => {
  it('reads the user id from sub and the roles from roles', async () => {
    const token = await new SignJWT({ roles: ['admin', 'support'] }).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime('1h').sign(key);
    expect(await authenticate(`Bearer ${token}`, secret)).toEqual({ userId: 'alice', roles: ['admin', 'support'] });
  });

  it('accepts the scheme in any case', async () => {
    const token = await signToken('alice', secret);
    expect(await authenticate(`bearer ${token}`, secret)).toEqual({ userId: 'alice', roles: [] });
  });

  it('keeps only string roles, and no roles when the claim is not a list', async () => {
    const mixed = await new SignJWT({ roles: ['admin', 7, null] }).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime('1h').sign(key);
    const single = await new SignJWT({ roles: 'admin' }).setProtectedHeader({ alg: 'HS256' }).setSubject('b').setExpirationTime('1h').sign(key);
    expect((await authenticate(`Bearer ${mixed}`, secret))?.roles).toEqual(['admin']);
    expect((await authenticate(`Bearer ${single}`, secret))?.roles).toEqual([]);
  });

  it('refuses a token without a subject', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token has no subject');
  });

  it('refuses a subject too long to be one of our ids', async () => {
    const token = await signToken('x'.repeat(300), secret);
    expect((await refusal(`Bearer ${token}`)).message).toMatch(/subject is longer/);
  });

  it('refuses a subject that is not well-formed Unicode (a lone surrogate)', async () => {
    const token = await signToken('alice\ud800', secret);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token subject is not well-formed Unicode');
  });

  it('refuses a token without exp: no token is valid forever', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').sign(key);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token has no expiry (exp)');
  });

  it('refuses a subject with control characters, which no store of ours could keep', async () => {
    const token = await signToken('alice\u0000admin', secret);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token subject contains control characters');
  });
});

describe('when the token is signed with another secret', () => {
  it('refuses it as an invalid signature', async () => {
    const token = await signToken('mallory', 'another-secret-also-long');
    expect((await refusal(`Bearer ${token}`)).message).toBe('token signature is invalid');
  });
});

describe('when the token claims another algorithm', () => {
  it('refuses alg "none" with no signature', async () => {
    const token = handMade({ alg: 'none', typ: 'JWT' }, { sub: 'mallory', roles: ['admin'] });
    expect((await refusal(`Bearer ${token}`)).message).toBe('token must be signed with HS256');
  });

  it('refuses alg "none" even with an HS256 signature attached', async () => {
    const token = handMade({ alg: 'none' }, { sub: 'mallory' }, hmac('sha256'));
    expect((await refusal(`Bearer ${token}`)).message).toBe('token must be signed with HS256');
  });

  it('refuses an RS256-signed token', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ roles: ['admin'] }).setProtectedHeader({ alg: 'RS256' }).setSubject('mallory').sign(privateKey);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token must be signed with HS256');
  });

  it('refuses HS512 even when signed with the right secret', async () => {
    const token = handMade({ alg: 'HS512' }, { sub: 'mallory' }, hmac('sha512'));
    expect((await refusal(`Bearer ${token}`)).message).toBe('token must be signed with HS256');
  });

  it('refuses an RS256 header carrying an HMAC of the secret (key confusion)', async () => {
    const token = handMade({ alg: 'RS256' }, { sub: 'mallory' }, hmac('sha256'));
    expect((await refusal(`Bearer ${token}`)).message).toBe('token must be signed with HS256');
  });
});

describe('when the token has expired', () => {
  it('refuses it past the clock tolerance', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime(now() - clockToleranceSeconds - 5).sign(key);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token expired');
  });

  it('still accepts it within the clock tolerance', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setExpirationTime(now() - 5).sign(key);
    expect(await authenticate(`Bearer ${token}`, secret)).toEqual({ userId: 'a', roles: [] });
  });
});

describe('when the token is not valid yet (nbf)', () => {
  it('refuses it past the clock tolerance', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setNotBefore(now() + clockToleranceSeconds + 60).setExpirationTime('1h').sign(key);
    expect((await refusal(`Bearer ${token}`)).message).toBe('token is not valid yet (nbf)');
  });

  it('accepts it within the clock tolerance', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('a').setNotBefore(now() + 5).setExpirationTime('1h').sign(key);
    expect(await authenticate(`Bearer ${token}`, secret)).toEqual({ userId: 'a', roles: [] });
  });
});

describe('when the header is not a bearer token', () => {
  it.each([['Basic YWxpY2U6c2VjcmV0'], ['Bearer'], ['Bearer a b'], ['token-without-scheme']])('refuses %j with how to send it', async (header) => {
    expect((await refusal(header)).message).toBe('authorization must be "Bearer <token>"');
  });

  it('refuses a bearer value that is not a JWT', async () => {
    expect((await refusal('Bearer not-a-jwt')).message).toBe('token is malformed');
    expect((await refusal(`Bearer ${base64url('{')}.${base64url('{}')}.x`)).message).toBe('token is malformed');
  });
});

describe('when JWT_ISSUER and JWT_AUDIENCE are set', () => {
  const rules = { secret, issuer: 'https://id.example.com', audience: 'orders' };

  it('accepts a token that carries both', async () => {
    const token = await signToken('alice', secret, { issuer: rules.issuer, audience: rules.audience });
    expect(await authenticate(`Bearer ${token}`, rules)).toEqual({ userId: 'alice', roles: [] });
  });

  it.each([
    ['no iss', { audience: 'orders' }, 'token rejected: iss claim'],
    ['another iss', { issuer: 'https://evil.example.com', audience: 'orders' }, 'token rejected: iss claim'],
    ['no aud', { issuer: 'https://id.example.com' }, 'token rejected: aud claim'],
    ['another aud', { issuer: 'https://id.example.com', audience: 'billing' }, 'token rejected: aud claim'],
  ])('refuses a token with %s', async (_name, claims, message) => {
    const token = await signToken('alice', secret, claims);
    const error = await authenticate(`Bearer ${token}`, rules).catch((failure: unknown) => failure);
    expect(error).toBeInstanceOf(UnauthenticatedError);
    expect((error as Error).message).toBe(message);
  });

  it('checks neither when they are unset', async () => {
    const token = await signToken('alice', secret, { issuer: 'anyone', audience: 'anything' });
    expect(await authenticate(`Bearer ${token}`, secret)).toEqual({ userId: 'alice', roles: [] });
  });
});

describe("given the server's authenticator, which remembers verified tokens", () => {
  it('answers a token it verified from memory until its exp, then verifies it again and refuses it', async () => {
    let clock = now();
    const authenticator = createAuthenticator({ secret }, { now: () => clock });
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('alice').setExpirationTime(clock + 60).sign(key);
    expect(await authenticator(`Bearer ${token}`)).toEqual({ userId: 'alice', roles: [] });
    clock += 60 + clockToleranceSeconds - 1;
    expect(await authenticator(`Bearer ${token}`)).toEqual({ userId: 'alice', roles: [] });
    clock += 2;
    await expect(authenticator(`Bearer ${token}`)).rejects.toThrow('token expired');
  });

  it('never remembers a refused token, nor one with another signature', async () => {
    const authenticator = createAuthenticator({ secret });
    const good = await signToken('alice', secret);
    const [header, payload] = good.split('.');
    await expect(authenticator(`Bearer ${header}.${payload}.${'A'.repeat(43)}`)).rejects.toThrow('token signature is invalid');
    expect(await authenticator(`Bearer ${good}`)).toEqual({ userId: 'alice', roles: [] });
    await expect(authenticator(`Bearer ${header}.${payload}.${'B'.repeat(43)}`)).rejects.toThrow('token signature is invalid');
  });

  it('verifies a new token once for callers that ask at the same time, and answers them in the order they asked', async () => {
    const authenticator = createAuthenticator({ secret });
    const token = await signToken('batcher', secret);
    const order: number[] = [];
    const callers = await Promise.all(Array.from({ length: 7 }, (_, i) => authenticator(`Bearer ${token}`).then((caller) => (order.push(i), caller))));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // One verification: every caller got the very object it produced.
    expect(new Set(callers).size).toBe(1);
    expect(callers[0]).toEqual({ userId: 'batcher', roles: [] });
  });

  it('shares a refusal with the callers waiting on it, and remembers none', async () => {
    const authenticator = createAuthenticator({ secret });
    const [header, payload] = (await signToken('alice', secret)).split('.');
    const forged = `Bearer ${header}.${payload}.${'A'.repeat(43)}`;
    const answers = await Promise.allSettled([authenticator(forged), authenticator(forged)]);
    expect(answers.map((answer) => answer.status)).toEqual(['rejected', 'rejected']);
    await expect(authenticator(forged)).rejects.toThrow('token signature is invalid');
  });

  it('keeps at most maxCached tokens', async () => {
    const authenticator = createAuthenticator({ secret }, { maxCached: 2 });
    for (const user of ['a', 'b', 'c', 'a']) expect((await authenticator(`Bearer ${await signToken(user, secret)}`))?.userId).toBe(user);
  });
});
