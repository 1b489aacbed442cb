#!/usr/bin/env bash
# Regenerates e2e/tools/kube/go.mod + go.sum for a given Kubernetes release, e.g.
#   bash e2e/tools/kube/regen.sh 1.36.3
# k8s.io/kubernetes requires every staging module (k8s.io/api, k8s.io/apiserver, ...) at v0.0.0 and
# replaces it with ./staging/src/...; as a dependency those replaces are ignored, so this module
# replaces each of them with the published v0.X.Y that matches v1.X.Y (kubernetes/kubernetes#79384).
# The list is taken from that exact version's own go.mod, never kept by hand.
set -euo pipefail
version=${1:?usage: regen.sh 1.X.Y}
version=${version#v}
staging=0.${version#1.}
cd "$(dirname "${BASH_SOURCE[0]}")"
command -v go >/dev/null || { echo "regen.sh: Go is not installed (need Go >= 1.24)" >&2; exit 1; }
export GOWORK=off GOFLAGS=-mod=mod
kmod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[ -f "$kmod" ] || { echo "regen.sh: could not download k8s.io/kubernetes@v$version" >&2; exit 1; }
rm -f go.mod go.sum
go mod init sigward.local/e2e-tools/kube >/dev/null 2>&1
go mod edit -go=1.24.0
n=0
for m in $(awk '$2=="=>" && $3 ~ /^\.\/staging\// {print $1}' "$kmod"); do
  go mod edit -replace="$m=$m@v$staging"
  n=$((n+1))
done
[ "$n" -gt 0 ] || { echo "regen.sh: no staging replace lines found in $kmod" >&2; exit 1; }
go get -tool "k8s.io/kubernetes/cmd/kube-apiserver@v$version" "k8s.io/kubernetes/cmd/kubectl@v$version"
# tidy also resolves the test dependencies of upstream packages; one not served by the proxy must not
# stop the regeneration (the go get above already recorded everything the build needs).
go mod tidy || echo "regen.sh: go mod tidy failed (see above); go.mod/go.sum from go get are kept" >&2
echo "regen.sh: k8s.io/kubernetes v$version with $n staging modules replaced by v$staging" >&2
