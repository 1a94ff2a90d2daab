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
# Skips, saying exactly why, when a tool cannot be had or cannot work on this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
WORK=${RETRAIN_CONTAINER_WORK:-/var/tmp/retrain-container}
IMAGE=localhost/retrain-action:test
BASE=$(sed -n 's/^ARG BASE_IMAGE=//p' Dockerfile)

skip() { echo "container test SKIPPED: $*"; exit 0; }

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

# 1. The stand-in base, made once per machine (debootstrap takes a few minutes).
if ! podman image exists "$BASE"; then
    base=$WORK/base-rootfs
    if [ ! -x "$base/usr/bin/python3" ]; then
        rm -rf "$base"
        echo "making the stand-in for $BASE with debootstrap (minbase + python3 + pip)"
        debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates bookworm "$base" \
            > "$WORK/debootstrap.log" 2>&1 || { tail -5 "$WORK/debootstrap.log"; skip "debootstrap failed (log: $WORK/debootstrap.log)"; }
    fi
    ln -sf python3 "$base/usr/bin/python"                  # the official image has `python`
    rm -f "$base"/usr/lib/python3*/EXTERNALLY-MANAGED       # and lets pip install system-wide
    # The machine's trust store: pip in the build reaches the package registry through this network.
    cp /etc/ssl/certs/ca-certificates.crt "$base/etc/ssl/certs/ca-certificates.crt"
    tar -C "$base" -c . | podman import --change 'CMD ["python3"]' - "$BASE" >/dev/null 2>&1
fi

# 2. The image, from the Dockerfile as it is (its default base is the stand-in).
echo "building $IMAGE on $BASE"
podman build --isolation=chroot --network=host --pull=never -t "$IMAGE" -f Dockerfile . > "$WORK/build.log" 2>&1 \
    || { tail -20 "$WORK/build.log"; echo "container test FAILED: podman build (log: $WORK/build.log)"; exit 1; }
base_size=$(podman image inspect --format '{{.Size}}' "$BASE")
image_size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "image size: the Dockerfile adds $(( (image_size - base_size) / 1000000 )) MB to its base ($base_size -> $image_size bytes)"

# 3. Its filesystem, as the container would see it.
cleanup
if grep -q " $rootfs/" /proc/mounts; then  # never delete through a bind mount of the host's /dev
    echo "container test FAILED: something is still mounted under $rootfs; unmount it first"; exit 1
fi
rm -rf "$rootfs" && mkdir -p "$rootfs"
cid=$(podman create "$IMAGE")
podman export "$cid" | tar -C "$rootfs" -x
podman rm "$cid" >/dev/null
mount -t proc proc "$rootfs/proc" || skip "cannot mount /proc in the image's filesystem"
mount --rbind /dev "$rootfs/dev" || skip "cannot bind /dev into the image's filesystem"

# 4. The action in it, as the runner starts it.
"$PYTHON" tests/container/run_action.py "$rootfs" \
    --entrypoint "$(podman image inspect --format '{{json .Config.Entrypoint}}' "$IMAGE")" \
    --image-env "$(podman image inspect --format '{{json .Config.Env}}' "$IMAGE")"
