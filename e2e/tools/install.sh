#!/usr/bin/env bash
# Builds the real programs the e2e tests run (etcd, kube-apiserver, Fulcio, Rekor, ...) from the
# pinned tools modules in e2e/tools/<module>/go.mod + go.sum, into a per-machine cache outside the work
# tree, and links them into e2e/.bin/<name>. Idempotent: an unchanged tool is never rebuilt.
#
#   bash e2e/tools/install.sh [--tier e2e|full|bench] [TOOL...]
#   bash e2e/tools/install.sh --list
# Tiers: e2e (mandatory), full (e2e + the opt-in full tier), bench (e2e + the peers the benches compare
# with: policy-controller's webhook for `npm run bench:policy-controller`; never part of e2e, full or CI).
#
# Cache entry: ${SIGWARD_CACHE:-$HOME/.cache/sigward}/tools/<name>-<key>/<name>, where <key> is a short
# sha256 of the module's go.mod + go.sum, the package path, the ldflags, the build recipe and
# `go version`: bumping a version rebuilds, anything else is a cache hit. Build logs are kept in
# .../tools/logs/<name>-<key>.log. GOMODCACHE and GOCACHE stay at Go's defaults.
# SIGWARD_BIN_DIR overrides where the links go (default e2e/.bin; used to measure cold builds).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=${SIGWARD_CACHE:-$HOME/.cache/sigward}/tools
bin_dir=${SIGWARD_BIN_DIR:-$repo/e2e/.bin}   # override only for measurements; the harness reads e2e/.bin
recipe="CGO_ENABLED=0 go build -trimpath -buildvcs=false -mod=readonly"

# name | tier | module dir | package | ldflags ('-': none; @V@/@MAJOR@/@MINOR@ = the pinned version of the
# module that contains the package)
# Every binary gets -s -w; the stamps make `--version` report the pinned release instead of "devel".
RU='-X sigs.k8s.io/release-utils/version.gitVersion=@V@ -X sigs.k8s.io/release-utils/version.gitTreeState=clean'
KUBE=''
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KUBE+=" -X $p.gitVersion=@V@ -X $p.gitMajor=@MAJOR@ -X $p.gitMinor=@MINOR@ -X $p.gitTreeState=clean"
done
TOOLS="
etcd                e2e  etcd         go.etcd.io/etcd/server/v3                                        -
olareg              e2e  olareg       github.com/olareg/olareg/cmd/olareg                              -X github.com/olareg/olareg/internal/version.vcsTag=@V@
distribution-registry e2e distribution github.com/distribution/distribution/v3/cmd/registry        -X github.com/distribution/distribution/v3/version.version=@V@
crane               e2e  crane        github.com/google/go-containerregistry/cmd/crane                 -X github.com/google/go-containerregistry/cmd/crane/cmd.Version=@V@
kube-apiserver      e2e  kube         k8s.io/kubernetes/cmd/kube-apiserver                             $KUBE
kubectl             e2e  kube         k8s.io/kubernetes/cmd/kubectl                                    $KUBE
fulcio              e2e  fulcio       github.com/sigstore/fulcio                                       $RU
rekor-server-v2     e2e  rekor-tiles  github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix        $RU
timestamp-server    e2e  tsa          github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server  $RU
cosign              e2e  cosign       github.com/sigstore/cosign/v3/cmd/cosign                         $RU
helm                e2e  helm         helm.sh/helm/v4/cmd/helm                                         -X helm.sh/helm/v4/internal/version.version=@V@
ecr-credential-provider e2e ecr-credential-provider k8s.io/cloud-provider-aws/cmd/ecr-credential-provider -X main.gitVersion=@V@
docker-credential-ecr-login e2e ecr-login github.com/awslabs/amazon-ecr-credential-helper/ecr-login/cli/docker-credential-ecr-login -X github.com/awslabs/amazon-ecr-credential-helper/ecr-login/version.Version=@V@
tesseract           full tesseract    github.com/transparency-dev/tesseract/cmd/tesseract/posix        -
rekor-server        full rekor-v1     github.com/sigstore/rekor/cmd/rekor-server                       $RU
trillian_log_server full trillian     github.com/google/trillian/cmd/trillian_log_server               -
trillian_log_signer full trillian     github.com/google/trillian/cmd/trillian_log_signer               -
cosign2             full cosign2      github.com/sigstore/cosign/v2/cmd/cosign                         $RU
policy-controller-webhook bench policy-controller github.com/sigstore/policy-controller/cmd/webhook $RU
"

die() { echo "install.sh: $*" >&2; exit 1; }
usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  echo "TOOL: $(tool_names all | tr '\n' ' ')"
}
# tool_names e2e|full|bench|all: names in build order; the e2e tier is part of full and of bench.
tool_names() {
  awk -v t="$1" 'NF && (t=="all" || $2==t || $2=="e2e" && (t=="full" || t=="bench")) {print $1}' <<<"$TOOLS"
}
tool_field() { awk -v n="$1" -v f="$2" '$1==n {print $f}' <<<"$TOOLS"; }
tool_ldflags() { awk -v n="$1" '$1==n {$1=$2=$3=$4=""; sub(/^ +/, ""); print}' <<<"$TOOLS"; }
# Pinned version of the module that contains package $2, from the go.mod in directory $1: the longest
# required module path that is $2 or a prefix of it.
pinned_version() {
  awk -v p="$2" '
    $1=="require" && $2!="(" {m=$2; v=$3} $1!="require" && $2 ~ /^v[0-9]/ {m=$1; v=$2}
    (p==m || index(p, m "/")==1) && length(m) > best {best=length(m); ver=v}
    {m=""}
    END {print ver}' "$1/go.mod"
}
sha256() { if command -v sha256sum >/dev/null; then sha256sum; else shasum -a 256; fi | cut -c1-12; }

tier=e2e
list=false
requested=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tier) tier=${2:-}; shift 2 || die "--tier needs e2e, full or bench" ;;
    --tier=*) tier=${1#--tier=}; shift ;;
    --list) list=true; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) requested+=("$1"); shift ;;
  esac
done
case "$tier" in e2e|full|bench) ;; *) die "unknown tier '$tier' (e2e, full or bench)" ;; esac

if $list; then
  for name in $(tool_names all); do
    pkg=$(tool_field "$name" 4)
    printf '%-20s %-4s %-64s %s
' "$name" "$(tool_field "$name" 2)" "$pkg" "$(pinned_version "$here/$(tool_field "$name" 3)" "$pkg")"
  done
  exit 0
fi

if [ ${#requested[@]} -gt 0 ]; then
  for name in "${requested[@]}"; do
    [ -n "$(tool_field "$name" 1)" ] || die "unknown tool '$name'; known: $(tool_names all | tr '\n' ' ')"
  done
  names=("${requested[@]}")
else
  mapfile -t names < <(tool_names "$tier")
fi

command -v go >/dev/null || die "Go is not installed: the e2e tools are built from source, install Go >= 1.26 (https://go.dev/dl/) and put it on PATH"
goversion=$(GOWORK=off go env GOVERSION 2>/dev/null || true)
case "$goversion" in
  go1.2[4-9]*|go1.[3-9][0-9]*|go[2-9]*) ;;
  *) die "Go ${goversion:-(unknown)} is too old: the tools modules need Go >= 1.24 (tool directives), and the pinned releases Go >= 1.26" ;;
esac

# The bench tier needs no Debian package beyond the e2e tier's.
bash "$repo/scripts/ensure-debian-tools.sh" "${tier/bench/e2e}"

mkdir -p "$cache/logs" "$bin_dir"
export GOWORK=off CGO_ENABLED=0
start_all=$SECONDS
built=0 hit=0 failed=()
for name in "${names[@]}"; do
  dir=$here/$(tool_field "$name" 3)
  pkg=$(tool_field "$name" 4)
  [ -f "$dir/go.mod" ] && [ -f "$dir/go.sum" ] || die "$name: $dir/go.mod or go.sum is missing"
  version=$(pinned_version "$dir" "$pkg")
  [ -n "$version" ] || die "$name: no module containing $pkg is required in $dir/go.mod"
  ldflags="-s -w"
  extra=$(tool_ldflags "$name")
  if [ "$extra" != - ]; then
    major=${version#v}; major=${major%%.*}
    minor=${version#v*.}; minor=${minor%%.*}
    extra=${extra//@V@/$version}; extra=${extra//@MAJOR@/$major}; extra=${extra//@MINOR@/$minor}
    ldflags+=" $extra"
  fi
  gov=$(cd "$dir" && go version)
  key=$( { cat "$dir/go.mod" "$dir/go.sum"; printf '%s\n' "$pkg" "$ldflags" "$recipe" "$gov"; } | sha256)
  entry=$cache/$name-$key
  log=$cache/logs/$name-$key.log
  if [ ! -x "$entry/$name" ]; then
    # One builder per entry even when several checkouts or CI jobs share the cache.
    exec {lock_fd}>"$cache/.$name-$key.lock"
    command -v flock >/dev/null && flock "$lock_fd"
    if [ ! -x "$entry/$name" ]; then
      echo "$name: building $pkg $version (log: $log)" >&2
      t0=$SECONDS
      tmp=$(mktemp -d "$cache/.$name-$key.XXXXXX")
      if (cd "$dir" && go build -trimpath -buildvcs=false -mod=readonly -ldflags "$ldflags" -o "$tmp/$name" "$pkg") >"$log" 2>&1; then
        rm -rf "$entry" && mv "$tmp" "$entry"
        echo "$name: built in $((SECONDS - t0)) s" >&2
        built=$((built + 1))
      else
        rm -rf "$tmp"
        echo "install.sh: building $name ($pkg) failed after $((SECONDS - t0)) s; full log: $log" >&2
        grep -v '^go: downloading ' "$log" | tail -n 5 | sed 's/^/  | /' >&2
        failed+=("$name")
        exec {lock_fd}>&-
        continue
      fi
    else
      echo "$name: cached (built meanwhile by another run)" >&2
      hit=$((hit + 1))
    fi
    exec {lock_fd}>&-
  else
    echo "$name: cached" >&2
    hit=$((hit + 1))
  fi
  ln -sfn "$entry/$name" "$bin_dir/$name"
done

if [ ${#failed[@]} -gt 0 ]; then
  die "failed to build: ${failed[*]} (logs in $cache/logs)"
fi
echo "install.sh: ${#names[@]} tools in $bin_dir ($built built, $hit cached) in $((SECONDS - start_all)) s" >&2
