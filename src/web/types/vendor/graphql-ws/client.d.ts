// The page imports graphql-ws from the path the server serves it at (src/web/static.ts); tsconfig.json's
// rootDirs lays this folder over src/web, so that path is typed as the package it is.
export * from 'graphql-ws/client';
