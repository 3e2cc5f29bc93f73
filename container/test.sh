#!/bin/bash
# make container-test: build the mim3d image FROM a local Debian bookworm base and run
# container/checks.sh inside it. For machines without a Docker engine or registry access:
#   * the base is made by debootstrap (cached in build/container/rootfs) and imported with podman;
#   * buildah builds with the vfs storage driver and chroot isolation and runs the checks with
#     `buildah run --isolation chroot` (podman run needs cgroups);
#   * the host's pip configuration (CA bundle, local indexes/wheels) is mounted into the pip step
#     only for the build; nothing of it stays in the image.
# Needs root and the Debian packages buildah, podman, debootstrap. Takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=build/container
BASE_IMAGE=${BASE_IMAGE:-localhost/mim3d-base}
IMAGE=${IMAGE:-localhost/mim3d:test}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SD=(--storage-driver vfs)
NICE=(nice -n 19 ionice -c3)
t0=$SECONDS
step() { echo "== [$((SECONDS - t0)) s] $*"; }

for tool in buildah podman debootstrap; do
    command -v "$tool" >/dev/null || {
        echo "container-test: needs $tool (Debian: apt-get install buildah podman debootstrap)" >&2
        exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "container-test: run as root (debootstrap, buildah vfs)" >&2; exit 2; }
mkdir -p "$WORK"

# 1. the base image: Debian bookworm minbase with python3.11 + venv (cached)
if ! podman "${SD[@]}" image exists "$BASE_IMAGE"; then
    if [ ! -e "$WORK/rootfs/.complete" ]; then
        step "debootstrap bookworm -> $WORK/rootfs"
        rm -rf "$WORK/rootfs"
        "${NICE[@]}" debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
            bookworm "$WORK/rootfs" "$MIRROR" > "$WORK/debootstrap.log"
        touch "$WORK/rootfs/.complete"
    fi
    step "podman import -> $BASE_IMAGE"
    "${NICE[@]}" tar -C "$WORK/rootfs" --exclude=./.complete -c . \
        | podman "${SD[@]}" import - "$BASE_IMAGE" >/dev/null
fi

# 2. the host's pip configuration for the build step only
PIPCONF=$WORK/pip.conf
MOUNTS=()
cert=${PIP_CERT:-$(pip config get global.cert 2>/dev/null || true)}
{
    echo "[global]"
    if [ -n "$cert" ] && [ -f "$cert" ]; then
        echo "cert = /host-ca.crt"
        MOUNTS+=(-v "$(realpath "$cert"):/host-ca.crt:ro")
    fi
    for key in index-url extra-index-url find-links; do
        value=$(pip config get "global.$key" 2>/dev/null || true)
        [ -n "$value" ] || continue
        echo "$key = $value"
        for item in $value; do  # local indexes/wheel folders: mount them at the same path
            path=${item#file://}
            path=${path%/}
            [ "${path##*/}" = simple ] && path=${path%/simple}  # the index links to ../files
            if [ "${path:0:1}" = / ] && [ -d "$path" ]; then MOUNTS+=(-v "$path:$path:ro"); fi
        done
    done
} > "$PIPCONF"
MOUNTS+=(-v "$(realpath "$PIPCONF"):/etc/pip.conf:ro")

# 3. the image
if buildah "${SD[@]}" inspect --type image "$IMAGE" >/dev/null 2>&1; then
    "${NICE[@]}" buildah "${SD[@]}" rmi "$IMAGE" >/dev/null  # vfs keeps full copies: no stale one
fi
step "buildah bud $IMAGE FROM $BASE_IMAGE"
tb=$SECONDS
"${NICE[@]}" buildah "${SD[@]}" bud --isolation chroot --layers=false --force-rm \
    --build-arg BASE="$BASE_IMAGE" "${MOUNTS[@]}" -t "$IMAGE" -f Containerfile .
build_s=$((SECONDS - tb))
size=$(buildah "${SD[@]}" images --format '{{.Size}}' "$IMAGE" | head -1)
step "built in $build_s s; image size $size"

# 4. the checks, inside a container of the image (as its non-root user)
ctr=$("${NICE[@]}" buildah "${SD[@]}" from --pull-never "$IMAGE")
trap 'buildah "${SD[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$WORK/ro"' EXIT
mkdir -p "$WORK/ro"
step "checks in $ctr"
tc=$SECONDS
"${NICE[@]}" buildah "${SD[@]}" run --isolation chroot \
    -v "$PWD/container:/checks:ro" -v "$PWD/$WORK/ro:/readonly:ro" \
    "$ctr" -- bash /checks/checks.sh
step "container-test passed: build $build_s s, checks $((SECONDS - tc)) s, image $size"
