#!/usr/bin/env bash
# `npm run image:build`: the Tongban gateway image, built with podman from the Debian base images
# of scripts/image/base.sh (made when missing, then cached), no registry needed.
# The machine's npm configuration goes in as the build secret `npmrc` (RUN --mount=type=secret),
# never into a layer: after the build the image's files and history are searched for it.
# Prints the build time and the image size. docs/operations.md §15.1.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/image/env.sh
. "$here/env.sh"
cd "$repo_root"

"$here/base.sh"

work=$(mktemp -d)
mnt=
cleanup() {
  [ -n "$mnt" ] && podman image unmount "$TONGBAN_IMAGE" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# The npm configuration of this machine: its global and user npmrc files (registry, auth, proxy…).
# A `cafile` (e.g. a TLS-intercepting egress proxy's CA bundle) is a path on this machine: the file
# goes in as a second secret, `npmca`, mounted at /run/secrets/npmca, and the secret npmrc points
# there (inlined as `ca[]=` it would overflow the environment npm gives to install scripts: E2BIG).
# A marker line lets us prove afterwards that the secret is nowhere in the image.
npmrc="$work/npmrc"
npmca="$work/npmca"
touch "$npmrc" "$npmca"
chmod 600 "$npmrc" "$npmca"
for f in "$(npm config get globalconfig)" "$(npm config get userconfig)"; do
  if [ -f "$f" ]; then grep -v -E '^[[:space:]]*cafile[[:space:]]*=' "$f" >>"$npmrc" || true; fi
  echo >>"$npmrc"
done
cafile=$(npm config get cafile)
ca_note=
if [ -n "$cafile" ] && [ -f "$cafile" ]; then
  cat "$cafile" >"$npmca"
  echo "cafile=/run/secrets/npmca" >>"$npmrc"
  ca_note=", cafile $cafile as the secret npmca"
fi
grep -q -E '^[[:space:]]*registry[[:space:]]*=' "$npmrc" || echo "registry=$(npm config get registry)" >>"$npmrc"
marker="tongban-build-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
printf '\n; %s\n' "$marker" >>"$npmrc"
echo "build.sh: npm configuration for the build secret npmrc: $(grep -c -v -E '^[[:space:]]*(;|#|$)' "$npmrc") settings$ca_note"

t0=$SECONDS
# --format docker keeps HEALTHCHECK and STOPSIGNAL (the OCI format drops HEALTHCHECK).
podman build --format docker \
  --build-arg NODE_IMAGE="$TONGBAN_BASE_IMAGE" \
  --build-arg BUILD_IMAGE="$TONGBAN_BUILD_BASE_IMAGE" \
  --secret id=npmrc,src="$npmrc" --secret id=npmca,src="$npmca" \
  --label org.opencontainers.image.revision="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  -t "$TONGBAN_IMAGE" -f Dockerfile .
build_s=$((SECONDS - t0))

# The secret must not be in the image: not in its files, not in its history or configuration.
if podman history --no-trunc --format '{{.CreatedBy}}' "$TONGBAN_IMAGE" | grep -q "$marker" \
  || podman image inspect "$TONGBAN_IMAGE" | grep -q "$marker"; then
  echo "build.sh: the npm configuration leaked into the image history/config" >&2
  exit 1
fi
mnt=$(podman image mount "$TONGBAN_IMAGE")
if grep -rqs --binary-files=text "$marker" "$mnt" || find "$mnt" -name '.npmrc' -o -name 'npmrc' | grep -q .; then
  echo "build.sh: the npm configuration leaked into the image files" >&2
  exit 1
fi
podman image unmount "$TONGBAN_IMAGE" >/dev/null
mnt=

size=$(podman image inspect --format '{{.Size}}' "$TONGBAN_IMAGE")
echo "build.sh: $TONGBAN_IMAGE built in ${build_s} s; size $(awk -v s="$size" 'BEGIN{printf "%.1f MB", s/1e6}') (goal <= 250 MB); npm configuration passed as a build secret, not in the image"
