// An Apollo gateway over the Jamsos subgraph and the disnaker subgraph.
//
// At start it reads both subgraphs' SDL (`_service`), composes them with @apollo/composition and exits
// with status 1 and the composition errors when that fails. Then it serves the supergraph and forwards
// the caller's bearer token to Jamsos (and only to Jamsos: the token's audience is jamsos-graph).
//
// @apollo/gateway cannot enforce @authenticated/@requiresScopes (Apollo Router can), so it refuses a
// supergraph that links them `for: SECURITY`. The copy it serves links them as plain metadata instead.
// That is safe only because the Jamsos subgraph checks scopes and region itself, which is what the
// test shows through this gateway; the composed supergraph (--supergraph-out) is left as composed.
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

const securityMetadataOnly = (sdl) =>
  sdl.replace(/(@link\(url: "https:\/\/specs\.apollo\.dev\/(?:authenticated|requiresScopes)\/v[0-9.]+"), for: SECURITY\)/g, '$1)');

const gateway = new ApolloGateway({
  supergraphSdl: securityMetadataOnly(supergraphSdl),
  buildService: ({ name, url }) => Object.assign(new ForwardToken({ url }), { name }),
});
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { fd: Number(values.fd) },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
stdout.write(`gateway at ${url}\n`);
