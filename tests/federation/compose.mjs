// Composition with @apollo/composition (the check `rover supergraph compose` runs) or with The Guild's
// MIT @theguild/federation-composition (what Hive Gateway uses). Subgraph SDL is passed as served,
// never rewritten.
//
// As a module: fetchSdl(url) reads a running subgraph's SDL from `{ _service { sdl } }`, and
// composeOrExplain(subgraphs, composer) returns the supergraph SDL or throws with every composition error.
// As a script: `node compose.mjs [--composer apollo|guild] name=URL_OR_FILE ...` prints the supergraph
// SDL, or the errors on standard error with exit status 1.
import { readFile } from 'node:fs/promises';
import { argv, exit, stderr, stdout } from 'node:process';
import { pathToFileURL } from 'node:url';

import { composeServices as apolloCompose } from '@apollo/composition';
import { composeServices as guildCompose } from '@theguild/federation-composition';
import { parse } from 'graphql';

const COMPOSERS = { apollo: apolloCompose, guild: guildCompose };

export async function fetchSdl(url) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  const body = await response.json();
  if (!response.ok || body.errors || !body.data?._service?.sdl) {
    throw new Error(`${url} did not give its SDL (HTTP ${response.status}): ${JSON.stringify(body)}`);
  }
  return body.data._service.sdl;
}

export function composeOrExplain(subgraphs, composer = 'apollo') {
  const composeServices = COMPOSERS[composer];
  if (!composeServices) throw new Error(`unknown composer ${composer}; use apollo or guild`);
  const result = composeServices(
    subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })),
  );
  if (result.errors?.length) {
    const lines = result.errors.map((e) => `  ${e.extensions?.code ?? 'ERROR'}: ${e.message}`);
    throw new Error(`composition failed (${composer}):\n${lines.join('\n')}`);
  }
  return { supergraphSdl: result.supergraphSdl, hints: result.hints ?? [] };
}

async function main(args) {
  let composer = 'apollo';
  if (args[0] === '--composer') {
    composer = args[1];
    args = args.slice(2);
  }
  const subgraphs = [];
  for (const arg of args) {
    const [name, source] = arg.split(/=(.*)/s);
    const isUrl = /^https?:\/\//.test(source);
    const sdl = isUrl ? await fetchSdl(source) : await readFile(source, 'utf8');
    subgraphs.push({ name, url: isUrl ? source : `http://${name}.invalid/graphql`, sdl });
  }
  const { supergraphSdl } = composeOrExplain(subgraphs, composer);
  stdout.write(supergraphSdl);
}

if (import.meta.url === pathToFileURL(argv[1]).href) {
  main(argv.slice(2)).catch((error) => {
    stderr.write(`${error.message}\n`);
    exit(1);
  });
}
