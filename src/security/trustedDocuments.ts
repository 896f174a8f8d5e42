import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { printExecutableGraphQLDocument } from '@graphql-tools/documents';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { type DocumentNode, type FieldNode, GraphQLError, Kind, parse, visit } from 'graphql';
import type { Plugin } from 'graphql-yoga';

// Trusted documents (TRUSTED_DOCUMENTS): the service runs only the operations of a manifest written by
// `npm run codegen`, { "<sha256 hex>": "<document>" }. A client sends the hash (Apollo's
// extensions.persistedQuery.sha256Hash) or the full document. A full document is trusted by the hash of
// its canonical form (selections sorted, __typename in every selection, as codegen writes the manifest),
// so the same operation spelled differently (by hand, in a client's own layout) or with the __typename that
// normalised caches add still matches, while any other field, argument or operation does not.

export interface TrustedDocuments {
  /** Hash as listed → document. */
  byHash: ReadonlyMap<string, string>;
  /** Canonical hashes of the listed documents. */
  canonical: ReadonlySet<string>;
}

const typename: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };

/** Adds __typename to every selection set below the operation's root, as normalised caches do. */
export function withTypename(document: DocumentNode): DocumentNode {
  return visit(document, {
    SelectionSet: (node, _key, parent) => {
      if (parent && !Array.isArray(parent) && (parent as { kind?: string }).kind === Kind.OPERATION_DEFINITION) return undefined;
      if (node.selections.some((selection) => selection.kind === Kind.FIELD && selection.name.value === '__typename')) return undefined;
      return { ...node, selections: [typename, ...node.selections] };
    },
  });
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
export const canonicalPrint = (document: DocumentNode) => printExecutableGraphQLDocument(withTypename(document));

/** Reads and checks a manifest; a file that is not one fails the start with a clear message. */
export async function loadTrustedDocuments(path: string): Promise<TrustedDocuments> {
  let listed: unknown;
  try {
    listed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`TRUSTED_DOCUMENTS=${path}: cannot read a JSON manifest (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!listed || typeof listed !== 'object' || Array.isArray(listed)) throw new Error(`TRUSTED_DOCUMENTS=${path}: expected an object { "<sha256>": "<document>" }`);
  const byHash = new Map<string, string>();
  const canonical = new Set<string>();
  for (const [hash, document] of Object.entries(listed)) {
    if (!/^[0-9a-f]{64}$/.test(hash) || typeof document !== 'string') throw new Error(`TRUSTED_DOCUMENTS=${path}: entry ${hash} is not "<sha256 hex>": "<document>"`);
    byHash.set(hash, document);
    try {
      canonical.add(sha256(canonicalPrint(parse(document))));
    } catch (error) {
      throw new Error(`TRUSTED_DOCUMENTS=${path}: entry ${hash} is not a GraphQL document (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  return { byHash, canonical };
}

// spec: false, or Yoga answers a refused document 200 to a client that accepts application/json only.
const notFound = (message: string) => new GraphQLError(message, { extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400, spec: false } } });

/**
 * Two hooks: Yoga's persisted-operations plugin turns a listed hash into its document (HTTP, GET and
 * POST, SSE); the validate hook refuses every document whose canonical hash is not listed, over HTTP and
 * WebSocket alike (graphql-ws validates through the same envelop).
 */
export function trustedDocumentsPlugins(trusted: TrustedDocuments): Plugin[] {
  const verdicts = new WeakMap<DocumentNode, boolean>();
  const listed = (document: DocumentNode) => {
    let verdict = verdicts.get(document);
    if (verdict === undefined) verdicts.set(document, (verdict = trusted.canonical.has(sha256(canonicalPrint(document)))));
    return verdict;
  };
  return [
    usePersistedOperations({
      // Full documents go on to the validate hook below, which checks them.
      allowArbitraryOperations: true,
      getPersistedOperation: (hash) => trusted.byHash.get(hash) ?? null,
      customErrors: {
        // Apollo's persisted-query link recognises this message and retries with the full document.
        notFound: { message: 'PersistedQueryNotFound', extensions: { code: 'PERSISTED_QUERY_NOT_FOUND', http: { status: 400 } } },
        keyNotFound: { message: 'send a query, or its hash in extensions.persistedQuery.sha256Hash', extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } },
      },
    }),
    {
      // Refused as a validation error: Yoga keeps a parse error's status 200 for application/json clients.
      onValidate: ({ params, setResult }) => {
        if (!listed(params.documentAST)) setResult([notFound('this document is not in the trusted documents of this service (PersistedQueryNotFound)')]);
      },
    },
  ];
}
