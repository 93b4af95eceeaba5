#!/usr/bin/env bash
# scripts/compose-secrets, run as a user would, in a copy of the repository's layout: it makes
# every secret compose.yaml mounts (private files) and the .env holding the worker's public key;
# both binaries accept what it made, and HAProxy the TLS pair, whose certificate (secrets/edge.crt)
# clients can trust for localhost and 127.0.0.1; running it again changes nothing.
# Usage: check_compose_secrets.sh REPO_ROOT INGRESS_BINARY WORKER_BINARY
set -euo pipefail
root=$1 ingress_bin=$2 worker_bin=$3
fail() {
  echo "check_compose_secrets: FAIL: $*" >&2
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scripts" "$tmp/build/worker"
cp "$root/scripts/compose-secrets" "$tmp/scripts/"
ln -s "$worker_bin" "$tmp/build/worker/revalidator-worker"

"$tmp/scripts/compose-secrets" >/dev/null || fail "the first run exited with status $?"
for name in $(sed -n 's|^    file: ./secrets/||p' "$root/compose.yaml"); do
  f=$tmp/secrets/$name
  [ -s "$f" ] || fail "compose.yaml mounts secrets/$name, which the script did not make"
  [ "$(stat -c %a "$f")" = 600 ] || fail "secrets/$name is readable by others ($(stat -c %a "$f"))"
done
public=$(sed -n 's/^WORKER_CURVE_PUBLIC_KEY=//p' "$tmp/.env")
[ -n "$public" ] || fail ".env holds no WORKER_CURVE_PUBLIC_KEY"

# Each binary accepts its side as its own configuration would give it.
"$worker_bin" --check-config --curve-secret-key-file "$tmp/secrets/worker_curve_secret_key" \
  --admin-secret-file "$tmp/secrets/admin_secret" >/dev/null || fail "the worker refused its secrets"
"$ingress_bin" --check-config --curve-server-key "$public" \
  --curve-secret-key-file "$tmp/secrets/ingress_curve_secret_key" \
  --secret-file "$tmp/secrets/webhook_secret" >/dev/null || fail "the ingress refused its secrets"

# The balancer's pair: the key and the certificate it belongs to in the file HAProxy reads, a
# certificate that verifies for the names the compose examples use, and HAProxy takes the file.
pem=$tmp/secrets/edge.pem crt=$tmp/secrets/edge.crt
[ -s "$crt" ] || fail "no secrets/edge.crt, the certificate clients trust"
grep -q -- '-----BEGIN PRIVATE KEY-----' "$pem" || fail "secrets/edge.pem holds no private key"
[ "$(openssl pkey -in "$pem" -pubout)" = "$(openssl x509 -in "$pem" -noout -pubkey)" ] ||
  fail "the key in secrets/edge.pem does not belong to its certificate"
cmp -s <(openssl x509 -in "$pem") <(openssl x509 -in "$crt") ||
  fail "secrets/edge.crt is not the certificate in secrets/edge.pem"
for name in "-verify_hostname localhost" "-verify_ip 127.0.0.1"; do
  # shellcheck disable=SC2086  # the option and its value, two words
  openssl verify -CAfile "$crt" $name "$crt" >/dev/null 2>&1 ||
    fail "secrets/edge.crt does not verify for ${name#* }"
done
openssl x509 -in "$crt" -noout -checkend $((30 * 86400)) >/dev/null ||
  fail "secrets/edge.crt expires within 30 days"
# -c parses and loads the certificate; nothing listens.
printf 'defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\nfrontend f\n    bind 127.0.0.1:8443 ssl crt %s\n' \
  "$pem" >"$tmp/haproxy.cfg"
haproxy -c -q -f "$tmp/haproxy.cfg" || fail "HAProxy cannot load secrets/edge.pem"

before=$(cd "$tmp" && sha256sum secrets/* .env)
"$tmp/scripts/compose-secrets" >/dev/null || fail "the second run exited with status $?"
[ "$(cd "$tmp" && sha256sum secrets/* .env)" = "$before" ] || fail "a second run changed the secrets"
echo "check_compose_secrets: ok"
