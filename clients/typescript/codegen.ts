// GraphQL Code Generator over the service's committed SDL (../../schema.graphql, which
// tests/schema/test_sdl_file.py keeps equal to what the server serves). The client preset writes typed
// documents to src/gql/ and, with persisted documents on, a manifest of { sha256 hash: document text }
// (src/gql/persisted-documents.json) that `jamsos documents push` registers for a client.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: "../../schema.graphql",
  documents: ["src/operations/*.ts"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: {
        fragmentMasking: false,
        persistedDocuments: { mode: "embedHashInDocument", hashAlgorithm: "sha256" },
      },
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars: {
          Date: "string",
          DateTime: "string",
          Decimal: "string",
          JSON: "unknown",
          Upload: "File",
          _Any: "unknown",
          FieldSet: "string",
          link__Import: "unknown",
          federation__Scope: "string",
          federation__Policy: "string",
          federation__ContextFieldValue: "unknown",
        },
      },
    },
  },
};

export default config;
