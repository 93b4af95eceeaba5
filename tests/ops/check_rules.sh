#!/usr/bin/env bash
# Each of ops/prometheus's alerting rules files is valid (promtool check rules) and behave as their unit tests
# say (promtool test rules: each alert fires, and does not, where it should), and every expression
# of ops/grafana's dashboard is valid PromQL. promtool comes with Debian's prometheus package
# (scripts/install-deps); without it this check fails, never skips.
# Usage: check_rules.sh OPS_DIR
set -euo pipefail
ops=${1:?usage: check_rules.sh OPS_DIR}
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v promtool >/dev/null; then
  echo "check_rules: promtool not found; install Debian's prometheus package (scripts/install-deps)" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/check_dashboard.py" "$ops/grafana/revalidator.json" --as-rules "$tmp/dashboard.rules.yml"
promtool check rules "$tmp/dashboard.rules.yml"
cd "$ops/prometheus"
for rules in *.rules.yml; do
  case $rules in *.test.yml) continue ;; esac
  promtool check rules "$rules"
  [ -f "${rules%.yml}.test.yml" ] || { echo "check_rules: $rules has no ${rules%.yml}.test.yml" >&2; exit 1; }
  promtool test rules "${rules%.yml}.test.yml"
done
