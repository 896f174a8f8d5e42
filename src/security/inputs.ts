import {
  type DocumentNode,
  type GraphQLInputType,
  type GraphQLSchema,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  Kind,
  TypeInfo,
  typeFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ValidationError } from '../domain/errors.js';
import { toGraphQLError } from '../schema/errors.js';

/** Longest identifier accepted: an `ID` argument or field, or an `idempotencyKey`. Ours are UUIDs. */
export const maxIdentifierLength = 128;

// Two rules on every string a client sends, before any resolver sees it. Both protect the stores
// rather than state business rules, which the domain owns:
// - U+0000 and strings that are not well-formed Unicode (a lone surrogate such as "\ud800") are refused
//   everywhere: Postgres can store neither in text nor in jsonb, so they could only ever end in a failed
//   write (a masked INTERNAL_SERVER_ERROR instead of the client's mistake).
// - identifiers are at most `maxIdentifierLength` characters: they are keys of unique indexes, and
//   Postgres refuses an index row over about 2.7 kB.

type Problem = string | null;

function checkString(value: string, identifier: boolean, where: string): Problem {
  if (value.includes('\u0000')) return `${where} contains U+0000, which no string may contain`;
  // In a /u pattern a paired surrogate is one code point; only a lone half matches \p{Cs}.
  if (/\p{Cs}/u.test(value)) return `${where} is not well-formed Unicode (a lone surrogate)`;
  if (identifier && value.length > maxIdentifierLength) return `${where} is longer than ${maxIdentifierLength} characters`;
  return null;
}

/** Walks a variable's value along its declared type, so IDs nested in input objects are found too. */
function checkValue(type: GraphQLInputType, value: unknown, identifier: boolean, where: string): Problem {
  if (value == null) return null;
  if (isNonNullType(type)) return checkValue(type.ofType, value, identifier, where);
  if (isListType(type)) {
    for (const [index, item] of (Array.isArray(value) ? value : [value]).entries()) {
      const problem = checkValue(type.ofType, item, identifier, `${where}[${index}]`);
      if (problem) return problem;
    }
    return null;
  }
  if (isInputObjectType(type) && typeof value === 'object') {
    const fields = type.getFields();
    for (const [name, item] of Object.entries(value as Record<string, unknown>)) {
      const field = fields[name];
      if (!field) continue; // graphql-js refuses unknown fields itself
      const problem = checkValue(field.type, item, false, `${where}.${name}`);
      if (problem) return problem;
    }
    return null;
  }
  if (typeof value === 'string') return checkString(value, identifier || (isScalarType(type) && type.name === 'ID'), where);
  return null;
}

/** What a document alone says: a problem in its literals, and which variables are idempotency keys. */
interface DocumentFacts {
  literalProblem: Problem;
  keyVariables: Set<string>;
}

// Yoga hands the same DocumentNode for the same text (its parse cache), so a document is walked once,
// not on every request; its variables still are checked every time.
const documentFacts = new WeakMap<DocumentNode, DocumentFacts>();

function factsOf(schema: GraphQLSchema, document: DocumentNode): DocumentFacts {
  const known = documentFacts.get(document);
  if (known) return known;
  let literalProblem: Problem = null;
  // Variables used as an idempotencyKey argument are identifiers whatever their declared type.
  const keyVariables = new Set<string>();
  const typeInfo = new TypeInfo(schema);
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      Argument(node) {
        if (node.name.value === 'idempotencyKey' && node.value.kind === Kind.VARIABLE) keyVariables.add(node.value.name.value);
      },
      StringValue(node) {
        if (literalProblem) return;
        const type = typeInfo.getInputType();
        const identifier = typeInfo.getArgument()?.name === 'idempotencyKey' || (type != null && /^ID!?$/.test(type.toString()));
        literalProblem = checkString(node.value, identifier, 'a string literal');
      },
    }),
  );
  const facts = { literalProblem, keyVariables };
  documentFacts.set(document, facts);
  return facts;
}

export function checkInputs(schema: GraphQLSchema, document: DocumentNode, variables: Record<string, unknown> | null | undefined): Problem {
  const { literalProblem, keyVariables } = factsOf(schema, document);
  if (literalProblem) return literalProblem;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    for (const variable of definition.variableDefinitions ?? []) {
      const name = variable.variable.name.value;
      const type = typeFromAST(schema, variable.type) as GraphQLInputType | undefined;
      if (!type) continue;
      const problem = checkValue(type, variables?.[name], keyVariables.has(name), `variable $${name}`);
      if (problem) return problem;
    }
  }
  return null;
}

/** Refuses an operation whose input breaks a rule above with BAD_USER_INPUT, over HTTP and WebSocket. */
export function inputGuardPlugin(): Plugin {
  const guard = ({ args, setResultAndStopExecution }: { args: { schema: GraphQLSchema; document: DocumentNode; variableValues?: Record<string, unknown> | null }; setResultAndStopExecution: (result: any) => void }) => {
    const problem = checkInputs(args.schema, args.document, args.variableValues);
    if (problem) setResultAndStopExecution({ errors: [toGraphQLError(new ValidationError(problem))!] });
  };
  return { onExecute: guard, onSubscribe: guard };
}
