# The open-autoglm image: one step of the loop per container, chosen by the first argument
#   docker run … open-autoglm sense|decide|act|verify|up|fleet
# Built on a Debian base made locally (no image registry is needed): deploy/image/build-and-run.sh
# makes local/debian:<suite> with debootstrap, builds this file and runs the four steps from it.
# Non-root (uid 10001), works with a read-only root file system (give it a writable, exec /tmp), tini as
# PID 1 so SIGTERM reaches node and the step drains; /healthz, /readyz, /metrics on the ops port.
ARG BASE=local/debian:trixie

FROM ${BASE} AS deps
RUN apt-get update \
  && apt-get install -y --no-install-recommends nodejs npm ca-certificates \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# package.json always matches; extra-ca.pem only where build-and-run.sh put the CA the host's npm
# trusts (a TLS-inspecting proxy's). It stays in this stage: the image below never holds it.
COPY package.json package-lock.json deploy/image/extra-ca*.pem ./
# The registry the host's npm uses (build-and-run.sh passes `npm config get registry`).
ARG NPM_REGISTRY=
RUN if [ -f extra-ca.pem ]; then export NODE_EXTRA_CA_CERTS="$PWD/extra-ca.pem"; fi \
  && npm ci --omit=dev --ignore-scripts --no-audit --no-fund ${NPM_REGISTRY:+--registry=$NPM_REGISTRY} \
  && npm cache clean --force && rm -f extra-ca.pem

FROM ${BASE}
RUN apt-get update \
  && apt-get install -y --no-install-recommends nodejs tini ca-certificates \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 10001 autoglm \
  && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
     --shell /usr/sbin/nologin autoglm
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY cli ./cli
COPY infra ./infra
COPY services ./services
COPY workflows ./workflows
COPY rules ./rules
COPY runbooks ./runbooks
COPY models ./models
COPY deploy/image/entrypoint.sh /usr/local/bin/autoglm-step
# @swc/core (the act worker's workflow bundler) unpacks its native addon into a cache it creates,
# locks and executes from at run time: under /tmp, which must therefore allow exec (a Kubernetes
# emptyDir does; docker run --tmpfs /tmp:rw,exec, as Docker's tmpfs default is noexec).
ENV SWC_NATIVE_BINDING_CACHE=/tmp/swc-cache
ENV NODE_ENV=production \
    AUTOGLM_OPS_HOST=0.0.0.0 \
    AUTOGLM_OPS_PORT=9400 \
    AUTOGLM_LOG_FORMAT=json \
    AUTOGLM_HOME=/tmp/autoglm
USER 10001:10001
EXPOSE 9400
HEALTHCHECK --interval=10s --timeout=3s --start-period=120s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.AUTOGLM_OPS_PORT||9400)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/autoglm-step"]
CMD ["up"]
