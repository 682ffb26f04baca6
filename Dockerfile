# Portico container image: build stage compiles TypeScript, runtime stage carries production
# dependencies and dist/ only. Node 20 reached end of life in April 2026, so the image runs on the
# Node 22 LTS line; the pinned majors (undici 7, @kubernetes/client-node 1) support both.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY examples ./examples
# The image's own "node" user (uid 1000): Portico binds unprivileged ports and needs no capability.
USER 1000:1000
EXPOSE 8080 8443 10254
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["--http-port", "8080", "--https-port", "8443", "--admin-port", "10254"]
