#!/usr/bin/env bash
# The dependency rules, checked (docs/architecture.md, "Parts and rules"):
#   1. a third-party client library's header (ZeroMQ, libpqxx, libpq, libmemcached, cpp-httplib)
#      is included only by that library's adapter files, listed below with why, so that the logic
#      around them is testable without servers and a library change touches one file;
#   2. ingress/ and worker/ never include each other's headers nor link each other's targets:
#      they share code only through shared/.
# Usage: check_includes.sh [ROOT]   (ROOT: the tree to check, the repository by default)
# Prints one line per violation (file:line: what, and the rule) and exits 1 if there is any.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$root" || exit 2

# library pattern (an extended regex on the included name) -> the files that may include it
declare -A adapters=(
  # ZeroMQ: the ingress's PUSH socket, the worker's PULL socket
  ['zmq\.h|zmq\.hpp|zmq_addon\.hpp']="ingress/publisher.cpp worker/consumer.cpp"
  # libpqxx: the worker's reads of rows and lists
  ['pqxx/.*']="worker/pg_source.cpp"
  # libpq: the lease (raw libpq for its timeouts) and the connection string parser
  ['libpq-fe\.h']="worker/lease.cpp worker/pg_conninfo.cpp"
  # libmemcached: the worker's writes
  ['libmemcached/.*']="worker/mc_sink.cpp"
  # cpp-httplib: the HTTP front, pinned to the version it was written against
  ['httplib\.h']="shared/http/http_server.cpp"
)

violations=0
report() {
  echo "$1"
  violations=$((violations + 1))
}

sources=$(find ingress worker shared -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) 2>/dev/null | sort)
for pattern in "${!adapters[@]}"; do
  allowed=" ${adapters[$pattern]} "
  while IFS=: read -r file line text; do
    [ -n "$file" ] || continue
    case "$allowed" in *" $file "*) continue ;; esac
    header=$(sed -E 's/.*#include[[:space:]]*[<"]([^>"]+)[>"].*/\1/' <<<"$text")
    report "$file:$line: includes <$header>, which only its adapter files may (${adapters[$pattern]}): rule 1"
  done < <(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]($pattern)[>\"]" $sources /dev/null)
done

# Rule 2: a quoted include that names a header found only in the other process's folder.
check_side() {
  local self=$1 other=$2
  while IFS=: read -r file line text; do
    [ -n "$file" ] || continue
    header=$(sed -E 's/.*#include[[:space:]]*"([^"]+)".*/\1/' <<<"$text")
    name=${header##*/}
    [ -e "$other/$header" ] || [ -n "$(find "$other" -name "$name" -print -quit)" ] || continue
    [ -e "$self/$header" ] || [ -e "shared/$header" ] && continue
    [ -n "$(find "$self" shared -name "$name" -print -quit)" ] && continue
    report "$file:$line: includes \"$header\" from $other/: ingress/ and worker/ share code only through shared/: rule 2"
  done < <(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$self" --include='*.cpp' --include='*.hpp' --include='*.h')
  while IFS=: read -r file line text; do
    [ -n "$file" ] || continue
    report "$file:$line: links or names $other/ (${text//[[:space:]]/ }): rule 2"
  done < <(grep -rnE "revalidator_${other}_|\\\$\\{PROJECT_SOURCE_DIR\\}/${other}|\\.\\./${other}" "$self" --include='CMakeLists.txt')
}
check_side ingress worker
check_side worker ingress

if [ "$violations" -gt 0 ]; then
  echo "check_includes: $violations violation(s) in $root"
  exit 1
fi
echo "check_includes: the include and dependency rules hold in $root"
