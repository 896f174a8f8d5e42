# Build: install with dev dependencies (which generates the Prisma client), typecheck, compile to dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY stubs ./stubs
COPY scripts ./scripts
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run typecheck && npm run build

# Runtime: production dependencies only and the compiled JavaScript (the generated Prisma client is
# compiled into dist/); prisma/ holds the migrations the command role applies at start. Runs as the
# unprivileged node user, with no TypeScript loader.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY stubs ./stubs
COPY prisma ./prisma
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
CMD ["node", "dist/main.js"]
