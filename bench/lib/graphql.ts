// GraphQL clients for the load generator. node:http with keep-alive rather than fetch: the generator
// shares two cores with the servers it measures, and http.request costs it less CPU per request.
import http from 'node:http';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { signToken } from '../../src/auth.js';

export const benchJwtSecret = 'bench-secret-not-for-production';

const tokens = new Map<string, Promise<string>>();
/** One token per user, signed once: signing is not what is being measured. */
export function tokenFor(userId: string): Promise<string> {
  let token = tokens.get(userId);
  if (!token) tokens.set(userId, (token = signToken(userId, benchJwtSecret)));
  return token;
}

/** A distinct user per client, so a per-caller limit never throttles the whole benchmark. */
export const benchUser = (client: number) => `bench-user-${client}`;

export class GraphQLHttp {
  private readonly agent: http.Agent;

  constructor(
    private readonly url: string,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  async request<T>(query: string, variables: Record<string, unknown>, token: string): Promise<T> {
    const body = JSON.stringify({ query, variables });
    const text = await new Promise<string>((resolve, reject) => {
      const request = http.request(
        `${this.url}/graphql`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve(Buffer.concat(chunks).toString()));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
    const parsed = JSON.parse(text) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] };
    const error = parsed.errors?.[0];
    if (error) throw new Error(`${error.extensions?.code ?? 'ERROR'}: ${error.message}`);
    return parsed.data as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

export function wsClient(url: string, token: string): Client {
  return createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    lazy: false,
  });
}

export const items = [
  { sku: 'BOOK-1', name: 'A book', quantity: 2, unitPriceCents: 1250 },
  { sku: 'PEN-1', name: 'A pen', quantity: 1, unitPriceCents: 99 },
];

/** The same selection on the CQRS and the CRUD server, so the two answer the same question. */
export const orderFields = 'id userId status currency totalCents createdAt updatedAt items { sku name quantity unitPriceCents lineTotalCents }';
