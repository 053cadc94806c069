// A stock Apollo gateway over the Jamsos subgraph and the disnaker subgraph.
//
// At start it reads both subgraphs' SDL (`_service`), composes them with @apollo/composition and exits
// with status 1 and the composition errors when that fails. Then it serves exactly the composed
// supergraph and forwards the caller's bearer token to Jamsos (and only to Jamsos: the token's audience
// is jamsos-graph). Nothing is rewritten: our default SDL links no `for: SECURITY` feature, which
// @apollo/gateway would refuse; the subgraph enforces scopes and region itself.
//
// Usage: node gateway.mjs --jamsos URL --disnaker URL --fd N [--supergraph-out FILE]
import { writeFile } from 'node:fs/promises';
import { exit, stderr, stdout } from 'node:process';
import { parseArgs } from 'node:util';

import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';

import { composeOrExplain, fetchSdl } from './compose.mjs';

const { values } = parseArgs({
  options: {
    jamsos: { type: 'string' },
    disnaker: { type: 'string' },
    fd: { type: 'string' },
    'supergraph-out': { type: 'string' },
  },
});

const subgraphs = [
  { name: 'jamsos', url: values.jamsos },
  { name: 'disnaker', url: values.disnaker },
];
let supergraphSdl;
try {
  for (const subgraph of subgraphs) subgraph.sdl = await fetchSdl(subgraph.url);
  ({ supergraphSdl } = composeOrExplain(subgraphs));
} catch (error) {
  stderr.write(`${error.message}\n`);
  exit(1);
}
if (values['supergraph-out']) await writeFile(values['supergraph-out'], supergraphSdl);

class ForwardToken extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (this.name === 'jamsos' && context.authorization) {
      request.http.headers.set('authorization', context.authorization);
    }
  }
}

const gateway = new ApolloGateway({
  supergraphSdl,
  buildService: ({ name, url }) => Object.assign(new ForwardToken({ url }), { name }),
});
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { fd: Number(values.fd) },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
stdout.write(`gateway at ${url}\n`);
