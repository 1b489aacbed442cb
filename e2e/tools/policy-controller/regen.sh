#!/usr/bin/env bash
# (Re)creates this tools module: sigstore/policy-controller's admission webhook (cmd/webhook), the peer
# `npm run bench:policy-controller` measures sigward against. Not part of the e2e tiers (tier `bench`).
#   bash e2e/tools/policy-controller/regen.sh [VERSION]      (default v0.15.1)
# Like pin.sh, plus two replace lines: policy-controller v0.15.1 requires go-containerregistry's
# authn/k8schain and authn/kubernetes at the pseudo-version v0.0.0-20260317232201-3888fb8f8738, which
# the module proxy refuses (403 "not available"); the newest pseudo-version it serves,
# v0.0.0-20260205022027-93aa2732266a (6 weeks older), is used instead. Both are only used to read pull
# secrets, which the bench does not use (its image is public).
set -euo pipefail
version=${1:-v0.15.1}
served=v0.0.0-20260205022027-93aa2732266a
command -v go >/dev/null || { echo "regen.sh: Go is not installed (need Go >= 1.24)" >&2; exit 1; }
cd "$(dirname "${BASH_SOURCE[0]}")"
export GOWORK=off GOFLAGS=-mod=mod
rm -f go.mod go.sum
go mod init sigward.local/e2e-tools/policy-controller >/dev/null 2>&1
go mod edit -go=1.24.0
for m in k8schain kubernetes; do
  go mod edit -replace "github.com/google/go-containerregistry/pkg/authn/$m=github.com/google/go-containerregistry/pkg/authn/$m@$served"
done
go get -tool "github.com/sigstore/policy-controller/cmd/webhook@$version"
echo "regen.sh: policy-controller $version, go $(sed -n 's/^go //p' go.mod)" >&2
