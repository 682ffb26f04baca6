# Portico container image. Stages:
#   build          - full install (TypeScript, types) and `npm run build` → dist/
#   deps           - a clean production-only install from the lockfile (no devDependencies, no
#                    install scripts); test/unit/deploy/runtime-stage.test.ts reproduces exactly this
#                    and runs the result, which proves no runtime import needs a devDependency
#   app            - deps' node_modules + the build's compiled re2 addon + dist/, nothing else
#   runtime-kernel - app + the kernel L4 tools with file capabilities, for deploy/daemonset:
#                    `docker build --target runtime-kernel -t portico-kernel:0.1.0 .`
#   runtime        - app as it is: user space only, no capability. The LAST stage, so a plain
#                    `docker build .` (no --target) builds it.
# Node 20 reached end of life in April 2026, so the image runs on the Node 22 LTS line; the pinned
# majors (undici 7, @kubernetes/client-node 1) support it. Pin the base by digest in your registry
# mirror (node:22-bookworm-slim@sha256:...) for byte-for-byte rebuilds.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# re2 (Ingress regexes run on RE2, linear time) is Portico's one native addon: its install script
# fetches a prebuilt binary or compiles it with node-gyp, which needs this toolchain (build stage
# only; the runtime gets the compiled re2.node and no compiler).
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci` installs exactly the lockfile, without install scripts: the only dependency that has one
# is re2, whose compiled addon the app stage takes from the build stage (same base image, same ABI).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${NODE_IMAGE} AS app
ENV NODE_ENV=production
WORKDIR /app
# package.json is read at run time (`--version`).
COPY package.json package-lock.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/node_modules/re2/build/Release/re2.node ./node_modules/re2/build/Release/re2.node
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

# Kernel L4 modes (--l4-mode iptables|ipvs|nftables) shell out to these tools, as uid 1000 with no
# capability of its own (exec clears a non-root process's permitted set; Kubernetes sets no ambient
# capabilities). File capabilities on the real binaries grant CAP_NET_ADMIN and CAP_NET_RAW when
# they run, within the bounding set the pod allows (deploy/daemonset adds exactly those two) and
# only without no_new_privs (allowPrivilegeEscalation: true; deploy/daemonset/daemonset.yaml says
# why). setcap refuses symlinks: iptables, ip6tables and their -restore/-save are Debian
# alternatives pointing at xtables-nft-multi (the default) or xtables-legacy-multi, so both multi-call
# binaries get the capabilities and `update-alternatives --set iptables /usr/sbin/iptables-legacy`
# keeps working. ipvsadm-save is a shell script that runs ipvsadm. setuid and
# setgid bits are stripped: with privilege escalation allowed, these four tools are then the only
# way up, and only to NET_ADMIN + NET_RAW.
FROM app AS runtime-kernel
USER 0:0
RUN set -eux; \
    apt-get update; \
    apt-get install -y --no-install-recommends iptables nftables ipvsadm conntrack libcap2-bin; \
    for tool in iptables-nft iptables-legacy nft ipvsadm conntrack; do \
      setcap cap_net_admin,cap_net_raw+ep "$(readlink -f "$(command -v "$tool")")"; \
    done; \
    for tool in iptables ip6tables iptables-restore ip6tables-restore nft ipvsadm conntrack; do \
      getcap "$(readlink -f "$(command -v "$tool")")" | grep -q 'cap_net_admin,cap_net_raw=ep'; \
    done; \
    apt-get purge -y libcap2-bin; \
    rm -rf /var/lib/apt/lists/*; \
    find / -xdev -type f -perm /6000 -exec chmod a-s {} +
USER 1000:1000

# The default image (last stage): user space only.
FROM app AS runtime
