#!/usr/bin/env bash
# A local CA and a serving certificate for sigward's webhook, made with openssl. For a cluster, the chart
# makes its own (certificates.mode=generate) or uses cert-manager; this script is for the other cases:
# running `sigward webhook` on your machine against a cluster (webhook URL https://127.0.0.1:PORT), or
# bringing your own Secret (certificates.mode=existingSecret).
#
#   certs/make-certs.sh [--namespace NS] [--service NAME] [--out DIR] [--days N] [--host H]...
#
# Writes into DIR (default certs/out/, git-ignored; the keys never belong in git):
#   ca.crt ca.key        the CA: ca.crt is the webhook's caBundle (base64 of it); keep ca.key private
#   tls.crt tls.key      the serving certificate, for the Service DNS names and 127.0.0.1 / localhost
# An existing CA in DIR is reused, so re-running only renews the serving certificate and the caBundle
# already registered keeps working.
set -euo pipefail

namespace=sigward
service=sigward
out="$(cd "$(dirname "$0")" && pwd)/out"
days=365
hosts=()
while (($#)); do
  case "$1" in
    --namespace) namespace="$2"; shift 2 ;;
    --service) service="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --days) days="$2"; shift 2 ;;
    --host) hosts+=("$2"); shift 2 ;;
    -h | --help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "make-certs.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

mkdir -p "$out"
chmod 700 "$out"
umask 077
cd "$out"

if [[ ! -s ca.key || ! -s ca.crt ]]; then
  openssl ecparam -name prime256v1 -genkey -noout -out ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=sigward local CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
  echo "made a new CA: $out/ca.crt"
fi

# The apiserver (a Go client) checks only subjectAltName, never the common name: every name it may dial
# must be here. Service names for an in-cluster webhook, 127.0.0.1/localhost for a webhook registered at
# https://127.0.0.1:PORT (a local run against a local or port-forwarded apiserver).
san="DNS:${service},DNS:${service}.${namespace},DNS:${service}.${namespace}.svc"
san+=",DNS:${service}.${namespace}.svc.cluster.local,DNS:localhost,IP:127.0.0.1"
for host in "${hosts[@]}"; do
  if [[ "$host" =~ ^[0-9.]+$ || "$host" == *:* ]]; then san+=",IP:${host}"; else san+=",DNS:${host}"; fi
done

openssl ecparam -name prime256v1 -genkey -noout -out tls.key
openssl req -new -key tls.key -subj "/CN=${service}.${namespace}.svc" -out tls.csr
cat > ext.cnf <<CNF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${san}
CNF
openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days "$days" \
  -extfile ext.cnf -out tls.crt 2>/dev/null
rm -f tls.csr ext.cnf ca.srl
chmod 600 ./*.key
openssl verify -CAfile ca.crt tls.crt >/dev/null

echo "serving certificate: $out/tls.crt ($san), $days days"
echo "caBundle: base64 -w0 < $out/ca.crt"
