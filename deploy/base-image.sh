#!/usr/bin/env bash
# Make the Debian base image every CrowdPass image is built FROM: crowdpass/debian:bookworm.
#
#   deploy/base-image.sh            # nothing to do when the image exists
#   deploy/base-image.sh --force    # make it again
#
# Where a registry answers, it is the official debian:bookworm-slim, pulled and tagged
# under that name. Where none does (these machines), it is made from Debian's own packages:
# `debootstrap --variant=minbase bookworm` from the apt mirror this machine is configured
# with, imported with `docker import` (about 30 s). Either way the images' Dockerfiles say
# `FROM ${BASE_IMAGE}` with BASE_IMAGE=crowdpass/debian:bookworm by default.
#
# Environment: DOCKER_HOST (the engine), BASE_IMAGE (the name to make),
# DEBIAN_MIRROR (default: the first bookworm mirror in /etc/apt/sources.list*),
# PULL=0 (do not try the registry). Needs root for debootstrap.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-crowdpass/debian:bookworm}
OFFICIAL=debian:bookworm-slim

if [ "${1:-}" != "--force" ] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  echo "base image $BASE_IMAGE: present"
  exit 0
fi

if [ "${PULL:-1}" != 0 ] && timeout 60 docker pull -q "$OFFICIAL" >/dev/null 2>&1; then
  docker tag "$OFFICIAL" "$BASE_IMAGE"
  echo "base image $BASE_IMAGE: $OFFICIAL from the registry"
  exit 0
fi

# The configured Debian mirror: deb822 sources (URIs:) or one-line sources (deb URL bookworm ...).
mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk '/^URIs:/ {u=$2} /^Suites:/ && / bookworm( |$)/ && u ~ /\/debian\/?$/ {print u; exit}' "$f"
  done
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
    | awk '$1 == "deb" && $3 == "bookworm" && $2 ~ /\/debian\/?$/ {print $2}' || true
}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-$(mirror | head -1)}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

command -v debootstrap >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

root=$(mktemp -d /tmp/crowdpass-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base image $BASE_IMAGE: debootstrap bookworm from $DEBIAN_MIRROR"
debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >/tmp/crowdpass-debootstrap.log 2>&1 || {
  tail -20 /tmp/crowdpass-debootstrap.log >&2
  exit 1
}
# Slim as the official image: no apt lists, no package caches, no docs, no man pages.
cat >"$root/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
printf 'deb %s bookworm main\ndeb %s bookworm-updates main\n' "$DEBIAN_MIRROR" "$DEBIAN_MIRROR" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["bash"]' - "$BASE_IMAGE" >/dev/null
echo "base image $BASE_IMAGE: imported ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
