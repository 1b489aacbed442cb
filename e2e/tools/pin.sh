#!/usr/bin/env bash
# (Re)creates one tools module: e2e/tools/<dir>/go.mod + go.sum holding the given packages as Go
# `tool` directives, with the whole dependency graph pinned by go.sum. Used for first setup and for
# version bumps, e.g.
#   bash e2e/tools/pin.sh cosign github.com/sigstore/cosign/v3/cmd/cosign@v3.1.3
# (Kubernetes has its own generator, kube/regen.sh, because of its staging replace lines.)
set -euo pipefail
dir=${1:?usage: pin.sh DIR PACKAGE@VERSION...}; shift
[ $# -gt 0 ] || { echo "usage: pin.sh DIR PACKAGE@VERSION..." >&2; exit 2; }
command -v go >/dev/null || { echo "pin.sh: Go is not installed (need Go >= 1.24)" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")"
mkdir -p "$dir" && cd "$dir"
export GOWORK=off GOFLAGS=-mod=mod
rm -f go.mod go.sum
go mod init "sigward.local/e2e-tools/$dir" >/dev/null 2>&1
# Lowest go line the dependencies allow (go get/tidy raise it as needed), so that any Go at or above
# what upstream itself needs can build this module.
go mod edit -go=1.24.0
go get -tool "$@"
# No `go mod tidy`: it also resolves the test dependencies of upstream packages, and some of those are
# not served by the module proxy (e.g. chainguard.dev/sdk for fulcio's tests). `go get -tool` already
# records everything needed to build the tools.
echo "pin.sh: $dir: go $(sed -n 's/^go //p' go.mod), tools: $(awk '/^tool \(/{t=1;next} t&&/^\)/{t=0} t{print $1} /^tool [^(]/{print $2}' go.mod | tr '\n' ' ')" >&2
