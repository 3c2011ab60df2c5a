#!/bin/sh
# Entrypoint of crowdpass-redis. As in the official image: with no configuration file,
# redis-server listens on every interface of the container with protected mode off (it is
# reachable only on the compose network or a port published on 127.0.0.1), and keeps its
# files in /data. Options given after `redis-server` win over these.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server --bind '* -::*' --protected-mode no --dir /data "$@"
fi
exec "$@"
