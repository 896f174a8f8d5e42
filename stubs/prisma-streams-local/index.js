// @prisma/dev imports the real package lazily, for `prisma dev` only. Should anything load it here,
// fail loudly rather than pretend.
throw new Error('@prisma/streams-local is replaced on this project (Node 20): `prisma dev` is not supported; use a real Postgres or PGlite');
