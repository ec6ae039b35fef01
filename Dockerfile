# syntax=docker/dockerfile:1
# Build stage: install with dev dependencies (the `node` package pins Node 24 for scripts), then prune: the image has
# neither dev dependencies nor the optional embedded PostgreSQL (it runs with DATABASE_URL, as docker-compose sets).
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json drizzle.config.ts ./
COPY src ./src
RUN node_modules/.bin/tsc --noEmit -p . && npm prune --omit=dev --omit=optional

# Runtime stage: Node 24 runs the TypeScript sources directly (type stripping); no compiler in the image.
FROM node:24-bookworm-slim
ENV NODE_ENV=production LISTEN_HOST=0.0.0.0 PORT=3000 DATA_DIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/src ./src
COPY package.json ./
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "src/server.ts"]
