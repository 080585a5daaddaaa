#!/usr/bin/env bash
# base-image.sh - base images for a machine that reaches Debian's mirror but no image registry.
#
#   pcf/bookworm:local        debootstrap --variant=minbase bookworm + docker import
#                             (stands in for debian:bookworm-slim)
#   pcf/node20-bookworm:local the same rootfs plus this machine's Node.js 20 (node, npm, npx and
#                             its headers) (stands in for node:20-bookworm-slim)
#
# Idempotent: an image that exists is kept (PCF_BASE_REBUILD=1 makes both again). Then:
#   docker/base-image.sh && docker-compose build      # .env: PCF_BASE=pcf/bookworm:local ...
#
# Settings: PCF_DEBIAN_MIRROR (default http://deb.debian.org/debian), PCF_BASE_TAG (local),
# PCF_NODE (default: the node on PATH; it must be Node.js 20 built for glibc, e.g. nodesource's).
# The machine's extra CA certificates (/usr/local/share/ca-certificates/*.crt) go into the
# rootfs too, so that the build stages reach npm through the same TLS proxy the host trusts.
set -euo pipefail

MIRROR=${PCF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAG=${PCF_BASE_TAG:-local}
BASE=pcf/bookworm:$TAG
NODE_BASE=pcf/node20-bookworm:$TAG
NODE_BIN=$(readlink -f "${PCF_NODE:-$(command -v node || true)}")

have() { docker image inspect "$1" >/dev/null 2>&1; }
log() { echo "base-image: $*"; }

[ "$(id -u)" = 0 ] || { echo "base-image: needs root (debootstrap)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "base-image: the Docker engine does not answer (start dockerd)" >&2; exit 1; }
if [ "${PCF_BASE_REBUILD:-0}" = 1 ]; then
  docker image rm -f "$NODE_BASE" "$BASE" >/dev/null 2>&1 || true
fi

work=$(mktemp -d /var/tmp/pcf-base.XXXXXX)
trap 'rm -rf "$work"' EXIT

if have "$BASE"; then
  log "$BASE exists"
else
  command -v debootstrap >/dev/null || {
    log "installing debootstrap"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
  }
  log "debootstrap bookworm from $MIRROR (about a minute)"
  debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
  r=$work/rootfs
  # What debian:bookworm-slim has: the stable, updates and security suites; no apt caches.
  cat >"$r/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${PCF_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
EOF
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";
EOF
  echo 'APT::Install-Recommends "false";' >"$r/etc/apt/apt.conf.d/docker-no-recommends"
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    mkdir -p "$r/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$r/usr/local/share/ca-certificates/"
  fi
  rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/cache/apt/archives/*.deb "$r"/var/log/*.log "$r"/tmp/*
  : >"$r/etc/hostname"
  : >"$r/etc/resolv.conf"
  tar -C "$r" --numeric-owner -c . | docker import \
    --change 'CMD ["bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --message "debootstrap --variant=minbase bookworm $MIRROR" - "$BASE" >/dev/null
  log "$BASE imported ($(docker image inspect -f '{{.Size}}' "$BASE" | awk '{printf "%d MB", $1/1e6}'))"
fi

if have "$NODE_BASE"; then
  log "$NODE_BASE exists"
else
  [ -x "$NODE_BIN" ] || { echo "base-image: no node on PATH (set PCF_NODE)" >&2; exit 1; }
  ver=$("$NODE_BIN" -v)
  case $ver in v20.*) ;; *) echo "base-image: $NODE_BIN is $ver, the control plane needs Node.js 20" >&2; exit 1 ;; esac
  prefix=$(dirname "$(dirname "$NODE_BIN")")      # /usr for /usr/bin/node
  npm_dir=$prefix/lib/node_modules/npm
  [ -f "$npm_dir/bin/npm-cli.js" ] || { echo "base-image: npm not found at $npm_dir" >&2; exit 1; }
  ctx=$work/node
  mkdir -p "$ctx/root/usr/local/bin" "$ctx/root/usr/local/lib/node_modules" "$ctx/root/usr/local/include"
  cp "$NODE_BIN" "$ctx/root/usr/local/bin/node"
  cp -a "$npm_dir" "$ctx/root/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/root/usr/local/bin/npx"
  # The headers, where node:20-bookworm-slim has them: native addons build without a download.
  if [ -d "$prefix/include/node" ]; then cp -a "$prefix/include/node" "$ctx/root/usr/local/include/node"; fi
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE
COPY root/ /
ENV NODE_VERSION=${ver#v}
CMD ["node"]
EOF
  docker build -q -t "$NODE_BASE" "$ctx" >/dev/null
  log "$NODE_BASE built (node $ver from $NODE_BIN)"
fi
echo "PCF_BASE=$BASE PCF_NODE_BASE=$NODE_BASE"
