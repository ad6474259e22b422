#!/bin/sh
# The image's entry point (PID 1 is tini, which passes SIGTERM on): runs one step of the loop.
set -eu
step="${1:-}"
case "$step" in
  sense | decide | act | verify | fleet)
    shift
    exec node --import tsx "/app/services/$step/main.ts" "$@"
    ;;
  up)
    shift
    exec node /app/bin/autoglm.js up "$@"
    ;;
  *)
    echo "usage: open-autoglm sense|decide|act|verify|up|fleet [arguments]" >&2
    exit 2
    ;;
esac
