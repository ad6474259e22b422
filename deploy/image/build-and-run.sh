#!/usr/bin/env bash
# Builds the open-autoglm image on this machine and runs the loop from it until one incident is
# verified. Needs root (apt-get, dockerd), the repository's node_modules (npm ci) for the verdict
# watcher, and Kafka and Temporal already up on the host (`node bin/autoglm.js infra up`).
#   1. installs Debian's docker.io (and debootstrap) when dockerd is missing, starts dockerd if none answers;
#   2. makes the base local/debian:<suite> with debootstrap from the Debian mirror apt is configured
#      with (no image registry is needed), suite from infra/versions.json;
#   3. builds the image (npm ci inside uses the host's npm registry setting);
#   4. runs the fleet simulator and sense, decide, act and verify, each its own container from the
#      image (host network, read-only root, /tmp on tmpfs, all capabilities dropped, no new
#      privileges) on topics, groups and task queues of their own;
#   5. waits for a verified verdict, checks each step's /healthz and /readyz, stops each with
#      SIGTERM (docker stop) and requires exit 0 (drained), removes the containers.
# CI does not run it (minutes of CPU and disk); run it by hand: sudo deploy/image/build-and-run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
TEMPORAL_ADDRESS="${TEMPORAL_ADDRESS:-127.0.0.1:7233}"
WAIT_SECONDS="${WAIT_SECONDS:-600}"
SUITE="$(node -p "require('./infra/versions.json').debian")"
VERSION="$(node -p "require('./package.json').version")"
IMAGE="open-autoglm:${VERSION}"
BASE="local/debian:${SUITE}"
RUN_ID="img$(date +%s)"
WORK="$(mktemp -d)"
STARTED_DOCKERD=""
CONTAINERS=()
say() { printf '[build-and-run] %s\n' "$*" >&2; }
cleanup() {
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
  rm -f deploy/image/extra-ca.pem
  if [ -n "$STARTED_DOCKERD" ]; then kill "$STARTED_DOCKERD" 2>/dev/null || true; fi
}
trap cleanup EXIT

# 1. The engine.
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  say "installing docker.io and debootstrap (Debian packages)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io debootstrap >/dev/null
fi
# Debian's client, which matches its engine (another docker earlier on PATH may not).
docker() { /usr/bin/docker "$@"; }
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: $WORK/dockerd.log)"
  dockerd >"$WORK/dockerd.log" 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { say "dockerd did not answer:"; tail -20 "$WORK/dockerd.log" >&2; exit 1; }
fi

# 2. The base, from the mirror apt already uses.
if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  MIRROR="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {print $2; exit}')"
  [ -n "$MIRROR" ] || MIRROR="$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
  [ -n "$MIRROR" ] || { say "no Debian mirror found in /etc/apt; set one up for apt first"; exit 1; }
  say "debootstrap $SUITE from the configured mirror"
  t0=$SECONDS
  debootstrap --variant=minbase "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  tar -C "$WORK/rootfs" -c . | docker import - "$BASE" >/dev/null
  rm -rf "$WORK/rootfs"
  say "base $BASE made in $((SECONDS - t0))s"
fi

# 3. The image. Where the host's npm trusts an extra CA (a TLS-inspecting proxy), the deps stage gets
# it for npm ci only; it is removed from the context again at exit.
EXTRA_CA="${NODE_EXTRA_CA_CERTS:-$(npm config get cafile 2>/dev/null || true)}"
if [ -n "$EXTRA_CA" ] && [ -r "$EXTRA_CA" ]; then
  cp "$EXTRA_CA" deploy/image/extra-ca.pem
  say "npm ci in the build trusts the CA the host's npm trusts ($EXTRA_CA)"
fi
say "building $IMAGE"
t0=$SECONDS
docker build --network host --build-arg "BASE=$BASE" --build-arg "NPM_REGISTRY=$(npm config get registry)" \
  -t "$IMAGE" . >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
BUILD_SECONDS=$((SECONDS - t0))
say "built $IMAGE in ${BUILD_SECONDS}s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'))"

# 4. The loop, one container per step.
head -c 32 /dev/urandom | base64 >"$WORK/hmac-key"
chmod 0444 "$WORK/hmac-key"
FLEET_PORT=$((18000 + RANDOM % 1000))
COMMON=(
  --network host --read-only --tmpfs /tmp:rw,exec,size=128m --cap-drop ALL --security-opt no-new-privileges
  -v "$WORK/hmac-key:/run/secrets/hmac-key:ro"
  -e "KAFKA_BROKERS=$KAFKA_BROKERS" -e "TEMPORAL_ADDRESS=$TEMPORAL_ADDRESS"
  -e "AUTOGLM_TOPIC_PREFIX=$RUN_ID" -e "AUTOGLM_GROUP_PREFIX=$RUN_ID"
  -e "AUTOGLM_ACT_TASK_QUEUE=$RUN_ID-act" -e "AUTOGLM_VERIFY_TASK_QUEUE=$RUN_ID-verify"
  -e "AUTOGLM_ACTUATOR_HMAC_KEY_FILE=/run/secrets/hmac-key"
  -e "AUTOGLM_HTTP_ACTUATOR_URL=http://127.0.0.1:$FLEET_PORT/actuate"
  -e "AUTOGLM_FLEET_PORT=$FLEET_PORT" -e "AUTOGLM_FLEET_SERVICES=2" -e "AUTOGLM_FLEET_SCENARIO_EVERY=20s"
)
declare -A OPS_PORT
port=$((19400 + RANDOM % 500))
t0=$SECONDS
for step in fleet sense decide act verify; do
  OPS_PORT[$step]=$port
  name="$RUN_ID-$step"
  docker run -d --name "$name" "${COMMON[@]}" -e "AUTOGLM_OPS_PORT=$port" "$IMAGE" "$step" >/dev/null
  CONTAINERS+=("$name")
  say "started $step (ops port $port)"
  port=$((port + 1))
  [ "$step" = fleet ] && sleep 3
done

# 5. One incident verified, health, drain.
say "waiting up to ${WAIT_SECONDS}s for a verified verdict on $RUN_ID.verdicts"
if ! npx tsx deploy/image/wait-verdict.ts "$KAFKA_BROKERS" "$RUN_ID" "$WAIT_SECONDS"; then
  for c in "${CONTAINERS[@]}"; do say "--- logs of $c"; docker logs --tail 15 "$c" 2>&1 | cut -c1-300 >&2; done
  exit 1
fi
LOOP_SECONDS=$((SECONDS - t0))
status=0
for step in sense decide act verify; do
  for probe in healthz readyz; do
    code="$(node -e "fetch('http://127.0.0.1:${OPS_PORT[$step]}/$probe').then(r=>console.log(r.status),()=>console.log('down'))")"
    say "$step /$probe: $code"
    [ "$code" = 200 ] || status=1
  done
  user="$(docker exec "$RUN_ID-$step" id -u)"
  [ "$user" = 10001 ] || { say "$step runs as uid $user"; status=1; }
done
for c in "${CONTAINERS[@]}"; do
  docker stop -t 40 "$c" >/dev/null
  code="$(docker inspect -f '{{.State.ExitCode}}' "$c")"
  say "$c stopped by SIGTERM: exit $code"
  [ "$code" = 0 ] || status=1
done
say "image build ${BUILD_SECONDS}s; four steps up to a verified incident in ${LOOP_SECONDS}s; result: $([ $status = 0 ] && echo ok || echo FAILED)"
exit $status
