#!/usr/bin/env bash
# Proves that a rule's check (check_includes.sh unless another is named) catches what it claims
# to: run on the fixture tree (and any further arguments), it must fail and print every message in
# the fixture's expected.txt (the file, the line and the rule).
# Usage: check_fixture.sh FIXTURE_DIR [CHECK [ARGUMENT...]]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
fixture=${1:?usage: check_fixture.sh FIXTURE_DIR [CHECK [ARGUMENT...]]}
check=${2:-$here/check_includes.sh}

status=0
output=$("$check" "$fixture" "${@:3}" 2>&1) || status=$?
if [ "$status" -ne 1 ]; then
  echo "check_fixture: $check exited with $status on $fixture, expected 1; it printed:"
  echo "$output"
  exit 1
fi
missing=0
while IFS= read -r expected; do
  [ -n "$expected" ] || continue
  if ! grep -qxF -- "$expected" <<<"$output"; then
    echo "check_fixture: missing message: $expected"
    missing=1
  fi
done <"$fixture/expected.txt"
if [ "$missing" -ne 0 ]; then
  echo "check_fixture: $check printed:"
  echo "$output"
  exit 1
fi
echo "check_fixture: every expected violation in $fixture was reported by $check"
