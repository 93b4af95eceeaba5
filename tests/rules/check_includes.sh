#!/usr/bin/env bash
# Checks the two dependency rules of the source tree (docs/architecture.md, "The parts and their
# files"):
#   adapter   only the adapter files listed below include a third-party client header (ZeroMQ,
#             libpqxx, libpq, libmemcached, cpp-httplib) in ingress/, worker/ or shared/; the logic
#             around them stays plain C++ that unit tests drive without servers;
#   parts     ingress/ and worker/ never depend on each other, and shared/ on neither: no
#             #include "..." that resolves to the other folder's header, no CMake reference to
#             the other folder's targets or sources.
# Every violation is printed as FILE:LINE: rule: what; the exit status is 1 when there is one.
# Usage: check_includes.sh [ROOT]   (ROOT: the tree to check, default the repository)
set -euo pipefail

root=$(cd "${1:-$(dirname "$0")/../..}" && pwd)

# The adapter files, relative to ROOT, each with why it may include a third-party header. Add a
# file here only when it is the one place that talks to that library.
declare -A adapters=(
  [ingress/publisher.cpp]="owns the ingress's ZeroMQ PUSH socket"
  [ingress/reads/mc_reader.cpp]="keeps the read routes' libmemcached handles, one per concurrent reader, with their time bounds"
  [ingress/reads/pg_reader.cpp]="reads the rows the cache misses for the read routes through libpq, from a pool of read-only connections"
  [worker/consumer.cpp]="owns the worker's ZeroMQ PULL socket"
  [shared/wire/zmq_curve.cpp]="CURVE key pair and public key through libzmq, for both binaries"
  [worker/pg_source.cpp]="reads rows and the list through libpqxx"
  [worker/lease.cpp]="holds the advisory-lock session through libpq"
  [worker/canary_store.cpp]="writes and reads the canary's row through libpq, every call bounded by a deadline"
  [shared/postgres/pg_conninfo.cpp]="parses the connection string with libpq's own parser, for both binaries"
  [shared/postgres/pg_deadline.cpp]="connects and queries through libpq's non-blocking calls, every wait bounded by a deadline, for the lease and the ingress's reads"
  [worker/mc_sink.cpp]="writes the cache through libmemcached"
  [worker/mc_pipeline.cpp]="pipelines a batch's sets on sockets of its own, each key sent to the server libmemcached's ring names"
  [shared/cache/mc_client.cpp]="sets up the libmemcached handle the worker, the ingress's reads and the bench share"
  [shared/cache/mc_gets.cpp]="reads the cache through libmemcached the one way every reader does: keys checked, a miss told from an outage in bounded time"
)

third_party='(zmq\.h|zmq\.hpp|zmq_addon\.hpp|pqxx/[^">]*|libpq-fe\.h|libmemcached/[^">]*|httplib\.h)'
failures=0
violation() {  # FILE LINE RULE WHAT
  echo "$1:$2: $3: $4"
  failures=$((failures + 1))
}

sources() {  # FOLDER: its C++ files, relative to ROOT
  [ -d "$root/$1" ] || return 0
  (cd "$root" && find "$1" -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort)
}

# adapter
for part in ingress worker shared; do
  while read -r file; do
    [ -n "$file" ] || continue
    [ -n "${adapters[$file]:-}" ] && continue
    while IFS=: read -r line header; do
      violation "$file" "$line" adapter \
        "includes the third-party header $header; only the adapter files listed in tests/rules/check_includes.sh may"
    done < <(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]$third_party[>\"]" "$root/$file" |
      sed -E 's|^([0-9]+):[^<"]*[<"]([^>"]+)[>"].*|\1:\2|')
  done < <(sources "$part")
done

# parts: includes. A quoted name is looked up as the compiler would: next to the file, in the
# part's own folder, then in shared/ (each part's include path). A name that resolves into a
# forbidden folder, or is found only there (that folder's include path was added), is a violation.
forbidden_for() {
  case $1 in
    ingress) echo worker ;;
    worker) echo ingress ;;
    shared) echo "ingress worker" ;;
  esac
}
resolve() {  # PART DIR NAME -> the header's path relative to ROOT, or nothing
  local candidate
  for candidate in "$2/$3" "$1/$3" "shared/$3"; do
    if [ -f "$root/$candidate" ]; then
      realpath -m --relative-to="$root" "$root/$candidate"
      return
    fi
  done
}
for part in ingress worker shared; do
  while read -r file; do
    [ -n "$file" ] || continue
    while IFS=: read -r line name; do
      found=$(resolve "$part" "$(dirname "$file")" "$name")
      for other in $(forbidden_for "$part"); do
        if [ "${found%%/*}" = "$other" ] || { [ -z "$found" ] && [ -f "$root/$other/$name" ]; }; then
          violation "$file" "$line" parts \
            "includes \"$name\", a header of $other/; $part/ must not depend on $other/"
        fi
      done
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$root/$file" |
      sed -E 's/^([0-9]+):[^"]*"([^"]+)".*/\1:\2/')
  done < <(sources "$part")
done

# parts: CMake. The other part's targets (revalidator_worker_core, revalidator-worker, ...) or
# its folder named in this part's CMakeLists.txt.
for part in ingress worker shared; do
  cmake_file=$part/CMakeLists.txt
  [ -f "$root/$cmake_file" ] || continue
  for other in $(forbidden_for "$part"); do
    while IFS=: read -r line text; do
      violation "$cmake_file" "$line" parts \
        "names $other/'s target or folder in \"$(echo "$text" | sed -E 's/^[[:space:]]+//')\"; $part/ must not depend on $other/"
    done < <(grep -nE "revalidator[_-]$other|/$other([/\")[:space:]]|\$)" "$root/$cmake_file" |
      grep -vE '^[0-9]+:[[:space:]]*#' || true)
  done
done

if [ "$failures" -gt 0 ]; then
  echo "check_includes: $failures violation(s) in $root" >&2
  exit 1
fi
echo "check_includes: ingress/, worker/ and shared/ keep the adapter and parts rules"
