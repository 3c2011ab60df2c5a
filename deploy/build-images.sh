#!/usr/bin/env bash
# Build every image docker-compose.yml runs, FROM the project's Debian base, and the
# PostgreSQL and Redis images the test suite's testcontainers start:
#
#   crowdpass-app       Dockerfile            API, workers, payments stub, migrate (+ the web app's build)
#   crowdpass-frontend  frontend/Dockerfile   the web app, served by nginx on :3000
#   crowdpass-lb        deploy/lb/Dockerfile  nginx, round-robin over api1 and api2
#   crowdpass-postgres  deploy/postgres/      Debian's PostgreSQL 15
#   crowdpass-redis     deploy/redis/         Debian's Redis 7.0
#
# The base image (BASE_IMAGE, default crowdpass/debian:bookworm) is made first when
# missing (deploy/base-image.sh). Builds use the host's network (`--network host`), the
# package indexes this machine's pip and npm use (PIP_INDEX_URL, NPM_REGISTRY) and its CA
# bundle (copied to deploy/build-ca.crt, which git ignores). Unchanged layers are cached by
# the engine, so a second run takes seconds. Usage: deploy/build-images.sh [image ...]
set -euo pipefail
cd "$(dirname "$0")/.."

export BASE_IMAGE=${BASE_IMAGE:-crowdpass/debian:bookworm}
deploy/base-image.sh

pip_index=${PIP_INDEX_URL:-$(python3 -m pip config get global.index-url 2>/dev/null || true)}
pip_index=${pip_index:-https://pypi.org/simple}
npm_registry=${NPM_REGISTRY:-$(npm config get registry 2>/dev/null || true)}
npm_registry=${npm_registry:-https://registry.npmjs.org/}
ca=${BUILD_CA_FILE:-${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}}
if [ -s "$ca" ]; then cp "$ca" deploy/build-ca.crt; else rm -f deploy/build-ca.crt; fi

declare -A dockerfile=(
  [crowdpass-app]=Dockerfile
  [crowdpass-frontend]=frontend/Dockerfile
  [crowdpass-lb]=deploy/lb/Dockerfile
  [crowdpass-postgres]=deploy/postgres/Dockerfile
  [crowdpass-redis]=deploy/redis/Dockerfile
)
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(crowdpass-frontend crowdpass-app crowdpass-postgres crowdpass-redis crowdpass-lb)

logs=$(mktemp -d /tmp/crowdpass-build.XXXXXX)
build() {
  local name=$1 start=$SECONDS
  if docker build --network host --pull=false -q -f "${dockerfile[$name]}" -t "$name:latest" \
    --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg PIP_INDEX_URL="$pip_index" \
    --build-arg NPM_REGISTRY="$npm_registry" . >"$logs/$name.log" 2>&1; then
    echo "built $name:latest in $((SECONDS - start)) s"
  else
    echo "FAILED to build $name (docker build -f ${dockerfile[$name]} .):" >&2
    tail -30 "$logs/$name.log" >&2
    return 1
  fi
}
# All at once: the builds mostly wait on apt, PyPI and npm downloads, so they overlap well
# (BUILD_JOBS=1 builds one after the other).
# The app's image copies the built web app out of the web app's image (Dockerfile, WEB_IMAGE):
# that one is built first, alone, when asked for or missing; the others then in parallel.
rest=()
web=0
for name in "${images[@]}"; do
  if [ "$name" = crowdpass-frontend ]; then web=1; else rest+=("$name"); fi
done
if [[ " ${rest[*]} " == *" crowdpass-app "* ]] && ! docker image inspect crowdpass-frontend:latest >/dev/null 2>&1; then
  web=1
fi
if [ "$web" = 1 ]; then build crowdpass-frontend || exit 1; fi
images=("${rest[@]}")
[ ${#images[@]} -gt 0 ] || { rm -rf "$logs"; exit 0; }
jobs_max=${BUILD_JOBS:-${#images[@]}}
pids=()
for name in "${images[@]}"; do
  [ -n "${dockerfile[$name]:-}" ] || { echo "unknown image: $name" >&2; exit 2; }
  build "$name" &
  pids+=($!)
  if [ ${#pids[@]} -ge "$jobs_max" ]; then wait "${pids[0]}" || status=1; pids=("${pids[@]:1}"); fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
rm -rf "$logs"
exit "${status:-0}"
