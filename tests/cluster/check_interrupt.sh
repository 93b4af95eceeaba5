#!/usr/bin/env bash
# Ctrl-C on scripts/cluster stops everything it started: the cluster is started held
# (CLUSTER_HOLD=1) in a session of its own, and once it prints its addresses it gets SIGINT the
# way a terminal sends it, to the whole process group. Within a deadline the run must end with
# status 0, no process of its session may remain (Postgres, Memcached, twemproxy, HAProxy,
# workers, ingresses), and its data folder must be gone.
#
#   check_interrupt.sh CLUSTER_TESTS_BINARY
set -euo pipefail
bin=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail() { echo "FAIL: $*" >&2; echo "--- its output:" >&2; cat "$out" >&2; exit 1; }

CLUSTER_HOLD=1 setsid "$bin" >"$out" 2>/dev/null &
leader=$!
for _ in $(seq 1200); do  # 120 s to start everything
  grep -q '^Holding' "$out" && break
  kill -0 "$leader" 2>/dev/null || fail "the cluster exited before it was up"
  sleep 0.1
done
grep -q '^Holding' "$out" || fail "the cluster was not up within 120 s"
dir=$(sed -n 's/^  data, logs *\([^ ]*\).*/\1/p' "$out")
[ -d "$dir" ] || fail "no data folder printed"
started=$(ps -o pid= -s "$leader" | wc -l)
[ "$started" -ge 14 ] || fail "expected the whole cluster in its session, found $started processes"

kill -INT -- "-$leader"
status=0
for _ in $(seq 600); do  # 60 s to stop
  kill -0 "$leader" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$leader" 2>/dev/null && fail "still running 60 s after Ctrl-C"
wait "$leader" || status=$?
[ "$status" -eq 0 ] || fail "exit status $status after Ctrl-C"
for _ in $(seq 100); do  # orphans get their parent-death signal at once; allow them to exit
  [ -z "$(ps -o pid= -s "$leader")" ] && break
  sleep 0.1
done
left=$(ps -o pid=,comm= -s "$leader" || true)
[ -z "$left" ] || fail "processes left after Ctrl-C: $left"
[ ! -e "$dir" ] || fail "data folder $dir left after Ctrl-C"
echo "ok: $started processes started, none left, $dir removed"
