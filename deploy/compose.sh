#!/usr/bin/env bash
# docker-compose.yml, run for real: what `make compose-up`, `compose-down`, `compose-smoke`
# and `compose-stats` do.
#
#   deploy/compose.sh env     write .data/compose.env (per-install secrets) when missing
#   deploy/compose.sh up      build the images (deploy/build-images.sh), start, wait for health
#   deploy/compose.sh down    stop and remove the containers (KEEP_VOLUMES=0: the data too)
#   deploy/compose.sh smoke   fresh volumes; up; the challenge contract suite and a short
#                             load test through :9999; down -v (KEEP=1: leave it running)
#   deploy/compose.sh load    the load test alone (SCALE=, default 0.02), docker stats sampled
#   deploy/compose.sh failover  fresh volumes; up with docker-compose.sentinel.yml too; a sale
#                             whose Redis primary is killed midway (tests/compose/test_failover.py);
#                             down -v
#
# Environment: DOCKER_HOST (the engine), COMPOSE (default `docker-compose`; `docker compose`
# works too), COMPOSE_PROJECT_NAME (default crowdpass), BASE_IMAGE (deploy/base-image.sh),
# JWT_SECRET / ADMIN_TOKEN / POSTGRES_PASSWORD (override .data/compose.env), PY (the
# project's Python for the tests, default .venv/bin/python).
set -euo pipefail
cd "$(dirname "$0")/.."

ENV_FILE=.data/compose.env
PY=${PY:-.venv/bin/python}
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-crowdpass}
read -r -a compose_cmd <<<"${COMPOSE:-docker-compose}"
dc() { "${compose_cmd[@]}" --env-file "$ENV_FILE" --compatibility "$@"; }
BASE_URL=http://127.0.0.1:9999

secrets() {
  # Per-install values, never shared defaults: made once, kept (mode 600) under .data/.
  mkdir -p .data
  if [ ! -s "$ENV_FILE" ]; then
    umask 077
    python3 - >"$ENV_FILE" <<'PY'
import secrets
print("# Made by deploy/compose.sh for this install; the environment overrides these.")
print(f"JWT_SECRET={secrets.token_hex(32)}")
print(f"ADMIN_TOKEN={secrets.token_urlsafe(24)}")
print(f"POSTGRES_PASSWORD={secrets.token_hex(16)}")
PY
    echo "wrote $ENV_FILE (JWT_SECRET, ADMIN_TOKEN, POSTGRES_PASSWORD)"
  fi
}

answers() {  # 200 from a URL (no curl needed)
  python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=3)' "$1" 2>/dev/null
}

wait_healthy() {
  local deadline=$((SECONDS + ${1:-180}))
  until answers "$BASE_URL/health" && answers http://127.0.0.1:5000/health && answers http://127.0.0.1:3000/; do
    if [ $SECONDS -ge $deadline ]; then
      echo "not healthy in time:" >&2
      dc ps >&2 || true
      dc logs --tail 30 >&2 || true
      return 1
    fi
    sleep 1
  done
}

up() {
  secrets
  deploy/build-images.sh
  local start=$SECONDS
  dc up -d --no-build
  wait_healthy 180
  echo "up and healthy in $((SECONDS - start)) s: $BASE_URL (and :5000), web app http://127.0.0.1:3000"
  dc ps
}

down() {
  [ -s "$ENV_FILE" ] || secrets
  if [ "${KEEP_VOLUMES:-1}" = 0 ]; then dc down -v --remove-orphans; else dc down --remove-orphans; fi
}

load() {
  local out=${LOAD_JSON:-.data/compose-load.json}
  "$PY" -m tests.compose.load --base-url "$BASE_URL" --scale "${SCALE:-0.02}" \
    --connections "${CONNECTIONS:-64}" --json "$out" --stats docker \
    --psql "${compose_cmd[*]} --env-file $ENV_FILE -p $COMPOSE_PROJECT_NAME exec -T postgres psql -U crowdpass -d crowdpass"
}

smoke() {
  local t0=$SECONDS status=0
  secrets
  KEEP_VOLUMES=0 down >/dev/null 2>&1 || true
  up
  local t1=$SECONDS
  [ "${KEEP:-0}" = 1 ] || trap 'KEEP_VOLUMES=0 down >/dev/null 2>&1 || true' EXIT
  echo "== the challenge contract suite through $BASE_URL"
  COMPOSE_BASE_URL=$BASE_URL COMPOSE_WEB_URL=http://127.0.0.1:3000 "$PY" -m pytest --noconftest -q -p no:cacheprovider tests/compose || status=1
  local t2=$SECONDS
  echo "== load test through $BASE_URL (SCALE=${SCALE:-0.02})"
  load || status=1
  local t3=$SECONDS
  echo "== containers after the load"
  dc ps
  if [ "$(dc ps | grep -c -E 'Exit [1-9]|Restarting|unhealthy')" != 0 ]; then
    echo "a container exited, restarts or is unhealthy" >&2
    status=1
  fi
  echo "compose-smoke: $([ $status = 0 ] && echo PASSED || echo FAILED) — build+up $((t1 - t0)) s, contract suite $((t2 - t1)) s, load $((t3 - t2)) s, total $((SECONDS - t0)) s"
  return $status
}

failover() {
  local status=0
  secrets
  export COMPOSE_FILE=docker-compose.yml:docker-compose.sentinel.yml
  KEEP_VOLUMES=0 down >/dev/null 2>&1 || true
  up
  trap 'KEEP_VOLUMES=0 down >/dev/null 2>&1 || true' EXIT
  local dcs="${compose_cmd[*]} --env-file $ENV_FILE -p $COMPOSE_PROJECT_NAME"
  # shellcheck disable=SC1090
  COMPOSE_ADMIN_TOKEN=$(. "$ENV_FILE"; echo "${ADMIN_TOKEN:-}") \
  COMPOSE_FAILOVER=1 COMPOSE_BASE_URL=$BASE_URL \
  COMPOSE_KILL_PRIMARY="$dcs kill redis" \
  COMPOSE_ASK_SENTINEL="$dcs exec -T sentinel1 redis-cli -p 26379 sentinel get-master-addr-by-name mymaster" \
    "$PY" -m pytest --noconftest -q -p no:cacheprovider tests/compose/test_failover.py || status=1
  echo "compose-failover: $([ $status = 0 ] && echo PASSED || echo FAILED)"
  return $status
}

case "${1:-}" in
  env) secrets ;;
  up) up ;;
  down) down ;;
  smoke) smoke ;;
  load) load ;;
  failover) failover ;;
  *) sed -n '2,19p' "$0" >&2; exit 2 ;;
esac
