// A small typed client: one `execute` over fetch, for the documents that src/gql/ generates.
//
// A document is sent by id (`{"documentId": "sha256:<hash>"}`, the GraphQL-over-HTTP persisted-documents
// convention) once its manifest has been registered for the client with `jamsos documents push`; a client
// that may send text can set `sendText` to send the document itself instead.
import type { TypedDocumentString } from "./gql/graphql.js";

export interface ClientOptions {
  /** The service's GraphQL endpoint, e.g. http://127.0.0.1:8000/graphql. */
  url: string;
  /** An OAuth2 access token (client credentials, or authorization code + PKCE). */
  token: string;
  /** Send the document text instead of its id. */
  sendText?: boolean;
}

export interface GraphQLErrorEntry {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; [key: string]: unknown };
}

/** The request failed as a whole: an HTTP error or top-level GraphQL errors (QUERY_TOO_COMPLEX, UNAUTHENTICATED, …). */
export class GraphQLRequestError extends Error {
  constructor(
    readonly status: number,
    readonly errors: GraphQLErrorEntry[],
  ) {
    super(errors.map((e) => `${e.extensions?.code ?? "ERROR"}: ${e.message}`).join("; ") || `HTTP ${status}`);
  }

  /** The `extensions.code` of every error, e.g. to tell RATE_LIMITED (retry later) from FORBIDDEN. */
  get codes(): string[] {
    return this.errors.map((e) => e.extensions?.code ?? "ERROR");
  }
}

export async function execute<TResult, TVariables>(
  options: ClientOptions,
  document: TypedDocumentString<TResult, TVariables>,
  ...[variables]: TVariables extends Record<string, never> ? [] : [TVariables]
): Promise<TResult> {
  // The preset writes the id with its algorithm ("sha256:<hex>"), as the manifest's keys.
  const documentId: string | undefined = document.__meta__?.hash;
  const body =
    options.sendText || documentId === undefined
      ? { query: document.toString(), variables }
      : { documentId, variables };
  const response = await fetch(options.url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/graphql-response+json, application/json;q=0.9",
      authorization: `Bearer ${options.token}`,
    },
    body: JSON.stringify(body),
  });
  const payload = (await response.json().catch(() => ({}))) as { data?: TResult; errors?: GraphQLErrorEntry[] };
  if (!response.ok || payload.errors?.length || payload.data === undefined) {
    throw new GraphQLRequestError(response.status, payload.errors ?? []);
  }
  return payload.data;
}
