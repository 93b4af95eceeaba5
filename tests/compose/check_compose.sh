#!/usr/bin/env bash
# Checks that compose.yaml is valid and consistent with the binaries it runs:
#   1. `docker-compose config -q` accepts it (a placeholder value for the required interpolation,
#      the worker's CURVE public key);
#   2. every REVALIDATOR_* variable a service passes is an option of the binary that service runs
#      (a service runs the binary named by its build target: ingress or worker), read from the
#      `(Env:REVALIDATOR_...)` entries of that binary's --help;
#   3. every other REVALIDATOR_* name in the file (interpolations, comments) is an option of at
#      least one binary, so the file never talks about variables that do not exist;
#   4. each worker endpoint of the ingress (its REVALIDATOR_WORKER_ENDPOINT, or the `workers` of
#      the [[collection]] tables of the config file it mounts) names a worker service on the port
#      its REVALIDATOR_BIND binds, serving that collection (REVALIDATOR_COLLECTION);
#   5. both binaries accept each such config file (the ingress, and a worker of each collection);
#   6. only the load balancer publishes a port beyond loopback, and it is an HTTPS edge that lets
#      through the webhook and the read routes only, never /metrics or the probes
#      (check_edge.py runs docker/haproxy.cfg in front of a stand-in ingress).
# Usage: check_compose.sh REPO_ROOT INGRESS_BINARY WORKER_BINARY
set -euo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 REPO_ROOT INGRESS_BINARY WORKER_BINARY" >&2
  exit 2
fi
root=$1 ingress_bin=$2 worker_bin=$3
compose_file=${COMPOSE_FILE_UNDER_TEST:-$root/compose.yaml}

fail() {
  echo "check_compose: FAIL: $*" >&2
  exit 1
}

[ -f "$compose_file" ] || fail "$compose_file does not exist"
command -v docker-compose >/dev/null ||
  fail "docker-compose is not installed (Debian package docker-compose; scripts/install-deps installs it)"
python3 -c 'import yaml' 2>/dev/null || fail "python3 with the yaml module is needed (python3-yaml)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for pair in "ingress:$ingress_bin" "worker:$worker_bin"; do
  name=${pair%%:*} bin=${pair#*:}
  [ -x "$bin" ] || fail "$name binary $bin is not executable"
  "$bin" --help >"$tmp/$name.help" 2>&1 || fail "$bin --help exited with status $?"
  grep -o '(Env:REVALIDATOR_[A-Z0-9_]*)' "$tmp/$name.help" | sed 's/^(Env://; s/)$//' |
    sort -u >"$tmp/$name.env"
  [ -s "$tmp/$name.env" ] || fail "$bin --help lists no REVALIDATOR_* variables"
done

# Placeholders for the variables compose.yaml requires (${VAR:?...}); its secrets are files, which
# `config` does not read.
required_env=(WORKER_CURVE_PUBLIC_KEY=x)

# 1. Valid Compose. --project-directory keeps relative paths resolving against the repo root even
# when COMPOSE_FILE_UNDER_TEST points at a copy elsewhere.
if ! env "${required_env[@]}" docker-compose --project-directory "$root" -f "$compose_file" \
  config >"$tmp/resolved.yaml" 2>"$tmp/config.err"; then
  cat "$tmp/config.err" >&2
  fail "docker-compose config rejected $compose_file"
fi
env "${required_env[@]}" docker-compose --project-directory "$root" -f "$compose_file" config -q ||
  fail "docker-compose config -q rejected $compose_file"

# 2-4. Variables against options.
python3 - "$compose_file" "$tmp/resolved.yaml" "$tmp/ingress.env" "$tmp/worker.env" \
  >"$tmp/checked.txt" <<'PY'
import re
import sys
import tomllib

import yaml

compose_file, resolved_file, ingress_env, worker_env = sys.argv[1:5]
options = {
    "ingress": set(open(ingress_env).read().split()),
    "worker": set(open(worker_env).read().split()),
}
errors = []

with open(resolved_file) as f:
    config = yaml.safe_load(f)
services = config.get("services") or {}


def environment(svc):
    env = svc.get("environment") or {}
    if isinstance(env, list):  # ["NAME=value", "NAME"]
        env = dict((item.split("=", 1) + [None])[:2] for item in env)
    return env


def target(svc):
    build = svc.get("build")
    return build.get("target") if isinstance(build, dict) else None


seen_targets = {}
for name, svc in services.items():
    env = environment(svc)
    tgt = target(svc)
    if tgt in options:
        seen_targets.setdefault(tgt, []).append(name)
    for var in sorted(v for v in env if v.startswith("REVALIDATOR_")):
        if tgt not in options:
            errors.append(
                f"service '{name}' sets {var}, but it does not run a revalidator binary "
                f"(build target {tgt!r}; expected one of {sorted(options)})")
        elif var not in options[tgt]:
            errors.append(
                f"service '{name}' sets {var}, which is not an option of revalidator-{tgt} "
                f"(its --help lists: {', '.join(sorted(options[tgt]))})")

for tgt in options:
    if tgt not in seen_targets:
        errors.append(f"no service is built with target '{tgt}'")

# Every REVALIDATOR_* name anywhere in the file (interpolations, comments) must exist somewhere.
known = options["ingress"] | options["worker"]
raw = open(compose_file).read()
for var in sorted(set(re.findall(r"\bREVALIDATOR_[A-Z0-9_]+\b", raw))):
    if var not in known:
        errors.append(f"{compose_file} mentions {var}, which is an option of neither binary")

# The ingresses must reach the worker where it binds.
workers = {n: services[n] for n in seen_targets.get("worker", [])}


def mounted(name, path):
    """The host file a service's volume puts at `path`, or None."""
    for v in services[name].get("volumes") or []:
        if isinstance(v, str):  # "source:target[:mode]", as docker-compose 1.x prints it
            parts = v.split(":")
            v = {"source": parts[0], "target": parts[1] if len(parts) > 1 else None}
        if v.get("target") == path:
            return v.get("source")
    return None


for name in seen_targets.get("ingress", []):
    env = environment(services[name])
    # (endpoint, the collection its worker must serve, or None): from --worker-endpoint, or from
    # the [[collection]] tables of the config file the ingress is given.
    endpoints = [(ep, None) for ep in str(env.get("REVALIDATOR_WORKER_ENDPOINT") or "").split(",")
                 if ep]
    if env.get("REVALIDATOR_CONFIG"):
        source = mounted(name, env["REVALIDATOR_CONFIG"])
        if not source:
            errors.append(f"service '{name}': REVALIDATOR_CONFIG={env['REVALIDATOR_CONFIG']!r} "
                          "is not a file any of its volumes mounts")
            continue
        with open(source, "rb") as f:
            collections = tomllib.load(f).get("collection", [])
        # For the shell, which has both binaries check the file.
        print("config", source, *[c["name"] for c in collections])
        for c in collections:
            endpoints += [(ep, c["name"]) for ep in c.get("workers", [])]
    for ep, collection in endpoints:
        m = re.fullmatch(r"tcp://([^:/]+):(\d+)", ep.strip())
        if not m:
            errors.append(f"service '{name}': worker endpoint {ep!r} is not tcp://host:port")
            continue
        host, port = m.groups()
        if host not in workers:
            errors.append(f"service '{name}': worker endpoint {ep!r} names no worker service "
                          f"(worker services: {', '.join(sorted(workers)) or 'none'})")
            continue
        serves = environment(workers[host]).get("REVALIDATOR_COLLECTION")
        if collection and serves != collection:
            errors.append(f"service '{host}' is a worker of collection {collection!r} but its "
                          f"REVALIDATOR_COLLECTION is {serves!r}")
        bind = str(environment(workers[host]).get("REVALIDATOR_BIND", "tcp://127.0.0.1:5555"))
        bm = re.fullmatch(r"tcp://([^:/]+):(\d+)", bind)
        if not bm or bm.group(2) != port:
            errors.append(f"service '{name}': worker endpoint {ep!r} does not match "
                          f"service '{host}' REVALIDATOR_BIND={bind!r}")
        elif bm.group(1) in ("127.0.0.1", "localhost"):
            errors.append(f"service '{host}' binds {bind!r}, unreachable from other containers")

# Published ports: the balancer's are the way in; everything else (the workers' admin ports with
# /metrics and /resync, Memcached) stays on this host.
edge_ports = []
for name, svc in services.items():
    balancer = str(svc.get("image", "")).startswith("haproxy")
    for p in svc.get("ports") or []:
        if isinstance(p, dict):  # the long form
            host_ip, target = p.get("host_ip", ""), str(p.get("target"))
        else:  # "[host_ip:]published:target[/protocol]"
            parts = str(p).split("/")[0].split(":")
            host_ip, target = (parts[0] if len(parts) == 3 else ""), parts[-1]
        if balancer:
            edge_ports.append(target)
        elif host_ip != "127.0.0.1":
            errors.append(f"service '{name}' publishes port {target} beyond loopback "
                          f"({host_ip or 'every interface'}); only the balancer may")
if not edge_ports:
    errors.append("no haproxy service publishes a port: the deployment has no way in")
print("edge", *edge_ports)

if errors:
    for e in errors:
        print(f"check_compose: FAIL: {e}", file=sys.stderr)
    sys.exit(1)
counts = ", ".join(f"{t}: {', '.join(s)}" for t, s in sorted(seen_targets.items()))
print(f"check_compose: ok ({counts})")
PY

# Each config file a service is given, as the binaries read it: the ingress, and a worker of each
# collection it declares.
while read -r kind file names; do
  [ "$kind" = config ] || continue
  "$ingress_bin" --config "$file" --insecure-no-auth --check-config >"$tmp/check.txt" 2>&1 ||
    { cat "$tmp/check.txt" >&2; fail "revalidator-ingress refuses $file"; }
  for collection in $names; do
    "$worker_bin" --config "$file" --collection "$collection" --check-config >"$tmp/check.txt" 2>&1 ||
      { cat "$tmp/check.txt" >&2; fail "revalidator-worker --collection $collection refuses $file"; }
  done
done <"$tmp/checked.txt"
# The load balancer's configuration, as HAProxy reads and runs it, on the ports compose.yaml
# publishes.
command -v haproxy >/dev/null ||
  fail "haproxy is not installed (Debian package haproxy; scripts/install-deps installs it)"
read -r -a edge_ports < <(sed -n 's/^edge //p' "$tmp/checked.txt")
python3 "$(dirname "$0")/check_edge.py" "$root/docker" "${edge_ports[@]}" ||
  fail "docker/haproxy.cfg is not the edge it must be (above)"
grep -v '^config \|^edge ' "$tmp/checked.txt"
