#!/usr/bin/env bash
# The rule checker catches what it is for: run on a tree with known violations, it must fail and
# name each one (file, line, rule), and must not flag the allowed adapter.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$("$here/check_includes.sh" "$here/fixtures/bad")
code=$?
fail=0
if [ "$code" -ne 1 ]; then
  echo "expected exit 1 on the bad tree, got $code"
  fail=1
fi
for expected in \
  'ingress/routes.cpp:2: includes <pqxx/pqxx>, which only its adapter files may (worker/pg_source.cpp): rule 1' \
  'shared/event.hpp:3: includes <zmq.hpp>' \
  'ingress/routes.cpp:4: includes "applier.hpp" from worker/' \
  'worker/CMakeLists.txt:2: links or names ingress/' \
  'check_includes: 4 violation(s)'; do
  if ! grep -qF -- "$expected" <<<"$out"; then
    echo "missing: $expected"
    fail=1
  fi
done
if grep -q '^ingress/publisher.cpp:' <<<"$out"; then
  echo "flagged the allowed adapter ingress/publisher.cpp"
  fail=1
fi
[ "$fail" -eq 0 ] || { echo "--- checker output:"; echo "$out"; }
exit "$fail"
