#!/usr/bin/env bash
# What the Dockerfile adds to its base image, in bytes and MB, after tests/container/run.sh built both
# (the base is the offline stand-in tagged as the Dockerfile's default base).
#
#     bash bench/image_size.sh
#
# Measured 2026-11-25: the Dockerfile adds 28 MB (291,533,916 -> 320,512,079 bytes): the pinned
# requirements (cryptography, which msal needs, is most of it) and the package.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=$(sed -n 's/^ARG BASE_IMAGE=//p' Dockerfile)
IMAGE=localhost/retrain-action:test
podman image exists "$IMAGE" || { echo "build it first: bash tests/container/run.sh"; exit 2; }
base=$(podman image inspect --format '{{.Size}}' "$BASE")
image=$(podman image inspect --format '{{.Size}}' "$IMAGE")
echo "base $BASE: $base bytes"
echo "image $IMAGE: $image bytes"
echo "the Dockerfile adds $(( image - base )) bytes ($(( (image - base) / 1000000 )) MB)"
