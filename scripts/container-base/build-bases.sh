#!/bin/sh
# Makes the local base images the container e2e run builds on, because no image registry is
# reachable from these machines: a Debian bookworm root from debootstrap (Debian's archive is
# reachable), with python3, imported as localhost/alastor-python-base; the same root plus this
# machine's own Node (binary and npm; its shared libraries are all in bookworm already) imported as
# localhost/alastor-node-base. Idempotent: an image that exists is kept unless FORCE=1.
#
#   sh scripts/container-base/build-bases.sh
#
# The templates create their own "app" user (groupadd/useradd, present in Debian), so the base has
# none, as with node:*-slim and python:*-slim.
#
# Env: ALASTOR_BASE_ROOT (work dir, default /var/tmp/alastor-base), DEBIAN_MIRROR, FORCE=1.
set -eu

WORK=${ALASTOR_BASE_ROOT:-/var/tmp/alastor-base}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PY_IMAGE=localhost/alastor-python-base:bookworm
NODE_IMAGE=localhost/alastor-node-base:bookworm
PODMAN="podman --runtime runc --cgroup-manager=cgroupfs"

have_image() { $PODMAN image exists "$1"; }
need() { command -v "$1" >/dev/null 2>&1 || { echo "build-bases: $1 is missing (apt-get install -y podman runc debootstrap)" >&2; exit 1; }; }
need podman; need debootstrap; need node

if [ "${FORCE:-0}" != 1 ] && have_image "$PY_IMAGE" && have_image "$NODE_IMAGE"; then
  echo "build-bases: $PY_IMAGE and $NODE_IMAGE exist (FORCE=1 rebuilds)"
  exit 0
fi

ROOT="$WORK/rootfs"
if [ ! -x "$ROOT/usr/bin/pip3" ]; then
  rm -rf "$ROOT"
  mkdir -p "$WORK"
  # minbase keeps it small; ca-certificates so functions can call https endpoints; pip because
  # the Python template installs requirements.txt as python:3.x-slim would let it.
  debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates bookworm "$ROOT" "$MIRROR"
  # python:3.x-slim (the template's default base) has no PEP 668 marker, so `pip install --user`
  # works there; Debian's marker would make the same template fail here.
  rm -f "$ROOT"/usr/lib/python3*/EXTERNALLY-MANAGED
  # Package caches and docs are not needed at run time and make the image twice the size.
  chroot "$ROOT" apt-get clean
  rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* \
         "$ROOT"/usr/share/locale/* "$ROOT"/var/cache/debconf/*-old "$ROOT"/var/log/*.log
fi


# This machine reaches registries through an intercepting egress proxy whose CA is installed under
# /usr/local/share/ca-certificates; builds inside the images (npm install, pip install) need to
# trust it the same way. The images are local-only, so carrying this machine's CAs is harmless.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  chroot "$ROOT" update-ca-certificates >/dev/null
fi

import_dir() { # dir image [extra --change ...]
  tar -C "$1" --numeric-owner -cf - . | $PODMAN import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/sh"]' ${3:+--change "$3"} - "$2" >/dev/null
  echo "build-bases: imported $2"
}

$PODMAN rmi -f "$PY_IMAGE" >/dev/null 2>&1 || true
import_dir "$ROOT" "$PY_IMAGE"

# Node: overlay this machine's node and npm on a copy of the root (same Debian release, so the
# libraries node links against - libstdc++, libc, libm, libgcc_s - are already there).
NODE_BIN=$(readlink -f "$(command -v node)")
NODE_MODS=$(dirname "$(dirname "$NODE_BIN")")/lib/node_modules
NROOT="$WORK/node-overlay"
rm -rf "$NROOT"; mkdir -p "$NROOT/usr/bin" "$NROOT/usr/lib/node_modules"
cp "$NODE_BIN" "$NROOT/usr/bin/node"
if [ -d "$NODE_MODS/npm" ]; then
  cp -a "$NODE_MODS/npm" "$NROOT/usr/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$NROOT/usr/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$NROOT/usr/bin/npx"
fi
# Check every library node needs is inside the root before importing (fails loudly otherwise).
for lib in $(ldd "$NODE_BIN" | awk '/=>/ {print $1}'); do
  found=$(find "$ROOT/lib" "$ROOT/usr/lib" -name "$lib" 2>/dev/null | head -1)
  [ -n "$found" ] || { echo "build-bases: $lib (needed by node) is not in the Debian root" >&2; exit 1; }
done
TMPROOT="$WORK/node-root"
rm -rf "$TMPROOT"; cp -a "$ROOT" "$TMPROOT"; cp -a "$NROOT/." "$TMPROOT/"
$PODMAN rmi -f "$NODE_IMAGE" >/dev/null 2>&1 || true
# Node ships its own CA list; point it at the system one so it trusts what the root trusts.
import_dir "$TMPROOT" "$NODE_IMAGE" 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt'

rm -rf "$TMPROOT" "$NROOT"

$PODMAN run --rm --network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$NODE_IMAGE" node -e 'console.log("node", process.version)'
$PODMAN run --rm --network=host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$PY_IMAGE" python3 -c 'import sys; print("python", sys.version.split()[0])'
