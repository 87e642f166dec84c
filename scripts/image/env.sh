# Sourced by scripts/image/*.sh: podman through the committed containers.conf, and the image names.
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo_root/deploy/podman/containers.conf}"
export TONGBAN_BASE_IMAGE="${TONGBAN_BASE_IMAGE:-localhost/tongban-base:bookworm-node20}"
export TONGBAN_BUILD_BASE_IMAGE="${TONGBAN_BUILD_BASE_IMAGE:-localhost/tongban-build-base:bookworm-node20}"
export TONGBAN_IMAGE="${TONGBAN_IMAGE:-localhost/tongban-gateway:0.1.0}"
export TONGBAN_POSTGRES_IMAGE="${TONGBAN_POSTGRES_IMAGE:-localhost/tongban-postgres:15-bookworm}"
