# Portico container image. Three stages:
#   build   - full install (TypeScript, types) and `npm run build` → dist/
#   deps    - a clean production-only install from the lockfile (no devDependencies, no install
#             scripts); test/unit/deploy/runtime-stage.test.ts reproduces exactly this and runs the
#             result, which proves no runtime import needs a devDependency
#   runtime - deps' node_modules + dist/, nothing else from the build
# Node 20 reached end of life in April 2026, so the image runs on the Node 22 LTS line; the pinned
# majors (undici 7, @kubernetes/client-node 1) support it. Pin the base by digest in your registry
# mirror (node:22-bookworm-slim@sha256:...) for byte-for-byte rebuilds.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci` installs exactly the lockfile; no dependency of Portico needs an install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# package.json is read at run time (`--version`).
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The bundled demo folder (`node dist/demo/start.js`, file mode).
COPY examples ./examples
# The base image's "node" user, by number: kubelet can only verify runAsNonRoot for a numeric user.
# Portico binds unprivileged ports (deploy/ maps 80/443 to them) and needs no capability.
USER 1000:1000
# http, https (data plane), admin (/healthz, /readyz, /metrics), admission webhook.
EXPOSE 8080 8443 10254 9443
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--http-port", "8080", "--https-port", "8443", "--admin-port", "10254"]
