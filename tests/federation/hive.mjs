// Hive Gateway (@graphql-hive/gateway, MIT) over the Jamsos subgraph, with the security directives on.
//
// At start it reads the subgraphs' SDL from `_service` and composes them with The Guild's composer
// (@theguild/federation-composition), as served: our subgraph runs with
// JAMSOS_FEDERATION_SECURITY_DIRECTIVES=true, so its SDL carries @authenticated/@requiresScopes.
// Composition errors: exit status 1 and the errors. Then the gateway
//   - verifies the caller's bearer token against our JWKS (JWT plugin: issuer, audience, ES256),
//   - enforces @authenticated/@requiresScopes itself (genericAuth, mode protect-granular), refusing a
//     field whose scope the token lacks before any subgraph is called,
//   - propagates the Authorization header to the Jamsos subgraph (only to it).
//
// Usage: node hive.mjs --jamsos URL [--disnaker URL] --jwks URL --issuer ISS --audience AUD --fd N
//        [--supergraph-out FILE]
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { exit, stderr, stdout } from 'node:process';
import { parseArgs } from 'node:util';

import {
  createGatewayRuntime,
  createRemoteJwksSigningKeyProvider,
  extractFromHeader,
  useJWT,
} from '@graphql-hive/gateway';

import { composeOrExplain, fetchSdl } from './compose.mjs';

const { values } = parseArgs({
  options: {
    jamsos: { type: 'string' },
    disnaker: { type: 'string' },
    jwks: { type: 'string' },
    issuer: { type: 'string' },
    audience: { type: 'string' },
    fd: { type: 'string' },
    'supergraph-out': { type: 'string' },
  },
});

const subgraphs = [{ name: 'jamsos', url: values.jamsos }];
if (values.disnaker) subgraphs.push({ name: 'disnaker', url: values.disnaker });
let supergraphSdl;
try {
  for (const subgraph of subgraphs) subgraph.sdl = await fetchSdl(subgraph.url);
  ({ supergraphSdl } = composeOrExplain(subgraphs, 'guild'));
} catch (error) {
  stderr.write(`${error.message}\n`);
  exit(1);
}
if (values['supergraph-out']) await writeFile(values['supergraph-out'], supergraphSdl);

const gateway = createGatewayRuntime({
  supergraph: supergraphSdl,
  logging: 'warn',
  plugins: () => [
    useJWT({
      signingKeyProviders: [createRemoteJwksSigningKeyProvider({ jwksUri: values.jwks })],
      tokenLookupLocations: [extractFromHeader({ name: 'authorization', prefix: 'Bearer' })],
      tokenVerification: { issuer: values.issuer, audience: values.audience, algorithms: ['ES256', 'RS256'] },
      reject: { missingToken: false, invalidToken: true },
    }),
  ],
  genericAuth: {
    mode: 'protect-granular',
    resolveUserFn: (context) => context.jwt?.payload ?? null,
    extractScopes: (user) => (typeof user.scope === 'string' ? user.scope.split(' ') : []),
    rejectUnauthenticated: false,
  },
  propagateHeaders: {
    fromClientToSubgraphs({ request, subgraphName }) {
      const authorization = request.headers.get('authorization');
      return subgraphName === 'jamsos' && authorization ? { authorization } : {};
    },
  },
});

const server = createServer(gateway);
server.listen({ fd: Number(values.fd) }, () => stdout.write('hive gateway listening\n'));
