#!/usr/bin/env bash
# Installs the Debian packages a test tier needs, or stops with one line saying what to install.
# Never a silent skip: a missing tool is an error, not a passed test.
#   test: docker-registry (the older, referrers-less registry of the integration tests), openssl
#   e2e:  the above, plus jq (module graph inspection in e2e/tools/install.sh)
#   full: the above, plus mariadb-server (Rekor v1's Trillian storage)
set -euo pipefail
tier=${1:-test}

declare -A binary_of=(
  [docker-registry]=/usr/bin/docker-registry
  [openssl]=/usr/bin/openssl
  [jq]=/usr/bin/jq
  [mariadb-server]=/usr/sbin/mariadbd
)
packages=(docker-registry openssl)
case "$tier" in
  test) ;;
  e2e) packages+=(jq) ;;
  full) packages+=(jq mariadb-server) ;;
  *) echo "ensure-debian-tools: unknown tier '$tier' (test, e2e or full)" >&2; exit 2 ;;
esac

missing=()
for package in "${packages[@]}"; do
  [ -x "${binary_of[$package]}" ] || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
  echo "sigward tests need these Debian packages: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# --no-install-recommends and policy-rc.d: the packages' own services must not start on this machine;
# tests run their own instances on loopback ports.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for package in "${missing[@]}"; do
  [ -x "${binary_of[$package]}" ] || { echo "ensure-debian-tools: $package installed but ${binary_of[$package]} is missing" >&2; exit 1; }
done
