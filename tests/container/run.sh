#!/usr/bin/env bash
# Build the action's image from its Dockerfile and run it as GitHub's runner runs a Docker action.
#
# No image registry is reachable here, so the base is an offline stand-in: a Debian minbase made with
# debootstrap plus python3 and pip, shaped like the official slim Python image (`python` on PATH, pip
# allowed to install system-wide), tagged as the Dockerfile's default base. podman builds on it
# (--isolation=chroot --network=host --pull=never). `podman run` cannot start containers here, so the
# image's filesystem is exported and tests/container/run_action.py runs the action in it with chroot and
# the runner's layout, against the fake GitHub. Prints the size the Dockerfile adds to its base.
#
# The stand-in's suite is Debian forky (testing), chosen for the Python version: the Dockerfile ships
# python:3.14-slim, which is Python 3.14 built from source on Debian trixie; trixie's own python3 is
# 3.13, and forky, trixie's successor, is the nearest suite whose python3 is 3.14 (sid has it too, but
# moves faster). The test checks that the image's `python` is the minor version the Dockerfile's base
# names, so a stand-in with another Python fails instead of passing for the wrong interpreter.
#
# When a tool cannot be had or cannot work on this machine the test cannot run: that FAILS (exit 1),
# saying why, unless RETRAIN_ALLOW_SKIP=1 allows a skip (then it says why and exits 0). CI without
# podman is then red, not green without the image ever being built.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
WORK=${RETRAIN_CONTAINER_WORK:-/var/tmp/retrain-container}
IMAGE=localhost/retrain-action:test
BASE=$(sed -n 's/^ARG BASE_IMAGE=//p' Dockerfile)

# The base's Python minor version, from its tag (python:3.14-slim -> 3.14), and the suite that carries it.
PY_MINOR=$(sed -n 's/^python:\([0-9]*\.[0-9]*\).*/\1/p' <<<"$BASE")
SUITE=${RETRAIN_STANDIN_SUITE:-forky}

skip() {
    if [ "${RETRAIN_ALLOW_SKIP:-}" = 1 ]; then
        echo "container test SKIPPED (RETRAIN_ALLOW_SKIP=1): $*"
        exit 0
    fi
    echo "container test FAILED: it cannot run: $*" >&2
    echo "(set RETRAIN_ALLOW_SKIP=1 to let it skip on a machine that cannot build images)" >&2
    exit 1
}
fail() { echo "container test FAILED: $*" >&2; exit 1; }
[ -n "$PY_MINOR" ] || fail "the Dockerfile's base '$BASE' names no Python version (expected python:X.Y-...)"
started=$SECONDS
lap() { echo "[$((SECONDS - started))s] $*"; }

need=()
command -v podman >/dev/null || need+=(podman)
command -v debootstrap >/dev/null || need+=(debootstrap)
if ((${#need[@]})); then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        skip "${need[*]} missing and no apt-get as root to install them"
    fi
    echo "installing ${need[*]} with apt-get"
    apt-get update -q >/dev/null || skip "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null || skip "apt-get install ${need[*]} failed"
fi
podman info >/dev/null 2>&1 || skip "podman cannot work here: $(podman info 2>&1 | tail -1)"

mkdir -p "$WORK"
rootfs=$WORK/image-rootfs
cleanup() {
    umount -R "$rootfs/dev" 2>/dev/null || true
    umount "$rootfs/proc" 2>/dev/null || true
}
trap cleanup EXIT

# 1. The stand-in base, made once per machine (debootstrap takes a few minutes). The label says which
# suite and Python made it, so a stand-in left by an older version of this script is made again.
standin="debian-$SUITE-python$PY_MINOR"
if [ "$(podman image inspect --format '{{index .Labels "retrain.standin"}}' "$BASE" 2>/dev/null)" != "$standin" ]; then
    base=$WORK/base-rootfs-$SUITE
    if [ ! -x "$base/usr/bin/python$PY_MINOR" ]; then
        rm -rf "$base"
        lap "making the stand-in for $BASE with debootstrap: Debian $SUITE minbase + python3 + pip"
        # The Debian archive this machine's apt is set up with (its first deb URI), not a host named here.
        mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $1; exit}')
        [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" {print ($2 ~ /^\[/ ? $3 : $2); exit}' /etc/apt/sources.list 2>/dev/null)
        [ -n "$mirror" ] || skip "no Debian archive found in this machine's apt sources for debootstrap"
        # debootstrap from bookworm has no script named forky; sid's script bootstraps every later suite.
        debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
            "$SUITE" "$base" "$mirror" /usr/share/debootstrap/scripts/sid \
            > "$WORK/debootstrap.log" 2>&1 || { tail -5 "$WORK/debootstrap.log"; skip "debootstrap of $SUITE failed (log: $WORK/debootstrap.log)"; }
    fi
    [ -x "$base/usr/bin/python$PY_MINOR" ] || fail "Debian $SUITE's python3 is not $PY_MINOR ($(readlink "$base/usr/bin/python3")); set RETRAIN_STANDIN_SUITE to a suite that has it"
    ln -sf python3 "$base/usr/bin/python"                  # the official image has `python`
    rm -f "$base"/usr/lib/python3*/EXTERNALLY-MANAGED       # and lets pip install system-wide
    # The machine's trust store: pip in the build reaches the package registry through this network.
    cp /etc/ssl/certs/ca-certificates.crt "$base/etc/ssl/certs/ca-certificates.crt"
    tar -C "$base" -c . | podman import --change 'CMD ["python3"]' --change "LABEL retrain.standin=$standin" - "$BASE" >/dev/null
    lap "stand-in $BASE imported ($standin)"
fi

# 2. The image, from the Dockerfile as it is (its default base is the stand-in).
lap "building $IMAGE on $BASE ($standin)"
# --no-cache: buildah keys a `RUN --mount=type=bind` layer by the instruction alone, not by what the mount holds
# (BuildKit does hash it), so a cached image would keep the package as it was at an earlier build.
podman build --no-cache --isolation=chroot --network=host --pull=never -t "$IMAGE" -f Dockerfile . > "$WORK/build.log" 2>&1 \
    || { tail -20 "$WORK/build.log"; fail "podman build (log: $WORK/build.log)"; }
lap "built $IMAGE"
base_size=$(podman image inspect --format '{{.Size}}' "$BASE")
image_size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: the Dockerfile adds $(( (image_size - base_size) / 1000000 )) MB to its base ($base_size -> $image_size bytes)"

# 3. Its filesystem, as the container would see it.
cleanup
if grep -q " $rootfs/" /proc/mounts; then  # never delete through a bind mount of the host's /dev
    fail "something is still mounted under $rootfs; unmount it first"
fi
rm -rf "$rootfs" && mkdir -p "$rootfs"
cid=$(podman create "$IMAGE")
podman export "$cid" | tar -C "$rootfs" -x
podman rm "$cid" >/dev/null
# The interpreter the action will run on is the one the Dockerfile's base names.
py_version=$(chroot "$rootfs" python --version 2>&1) || fail "the image has no working python: $py_version"
case "$py_version" in "Python $PY_MINOR."*) ;; *) fail "the image runs $py_version, the Dockerfile ships Python $PY_MINOR";; esac
lap "image filesystem exported; it runs $py_version"
mount -t proc proc "$rootfs/proc" || skip "cannot mount /proc in the image's filesystem"
mount --rbind /dev "$rootfs/dev" || skip "cannot bind /dev into the image's filesystem"

# 4. The action in it, as the runner starts it.
"$PYTHON" tests/container/run_action.py "$rootfs" \
    --entrypoint "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")" \
    --image-env "$(podman image inspect --format '{{json .Config.Env}}' "$IMAGE")"
lap "container test done"
