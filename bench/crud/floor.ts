// The GraphQL floor: bare graphql-yoga, no plugins, no authentication, answering `{ __typename }`.
// Nothing a GraphQL server over HTTP does can cost less on this stack; a read that reaches a good
// fraction of this rate has little left to take out.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSchema, createYoga } from 'graphql-yoga';

const { PORT = '0', HOST = '127.0.0.1' } = process.env;
const yoga = createYoga({
  schema: createSchema({ typeDefs: 'type Query { ok: Boolean }' }),
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: false,
  logging: false,
});
const server = createServer(yoga);
server.listen(Number(PORT), HOST, () => {
  const { address, port } = server.address() as AddressInfo;
  console.log(JSON.stringify({ msg: 'floor started', url: `http://${address}:${port}/graphql` }));
});
process.once('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
