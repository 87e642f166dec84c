# Sourced by scripts/image/base.sh and postgres.sh: a Debian bookworm image made from Debian's own
# packages (mmdebstrap), imported with `podman import`, no registry needed (docs/operations.md §15.1).
# Run as root (mmdebstrap, rootful podman).

# podman through the committed containers.conf, and the image names.
# shellcheck source=scripts/image/env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"

# No docs, man pages or locales in the image (as Debian's -slim images do), no apt lists or caches.
debian_slim=(
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*.log "$1"/var/cache/ldconfig/aux-cache'
)

# debian_image NAME [mmdebstrap args...]
#   Builds image NAME with `mmdebstrap <args> bookworm`, unless it exists and $debian_rebuild is not 1.
#   The caller sets the arrays debian_changes (`podman import --change …`) and debian_check (the
#   arguments of a `podman run` of the new image that must exit 0 before NAME is tagged).
#   Imported under a temporary name and tagged only once the check passes: a failed or cut-off
#   mmdebstrap must not leave an image that later runs would take as the cached one.
debian_image() {
  local name=$1
  shift
  if [ "${debian_rebuild:-0}" != 1 ] && podman image exists "$name"; then
    echo "$(basename "$0"): $name exists (cached; --rebuild to make it again)"
    return
  fi
  local t0=$SECONDS tmp="$name-incomplete"
  echo "$(basename "$0"): building $name (mmdebstrap bookworm $(printf '%s\n' "$@" | grep -E '^--(variant|include)=' | tr '\n' ' '))"
  podman rmi -f "$tmp" >/dev/null 2>&1 || true
  if ! mmdebstrap --quiet "${debian_slim[@]}" "$@" \
    bookworm - "${TONGBAN_DEBIAN_MIRROR:-http://deb.debian.org/debian}" \
    | podman import "${debian_changes[@]}" --message "Debian bookworm ($(basename "$0"))" - "$tmp" >/dev/null \
    || ! podman run --rm "$tmp" "${debian_check[@]}"; then
    podman rmi -f "$tmp" >/dev/null 2>&1 || true
    echo "$(basename "$0"): building $name failed" >&2
    exit 1
  fi
  podman tag "$tmp" "$name"
  podman untag "$tmp" "$tmp"
  echo "$(basename "$0"): $name built in $((SECONDS - t0)) s, $(podman image inspect --format '{{.Size}}' "$name" | awk '{printf "%.0f MB", $1/1e6}')"
}
