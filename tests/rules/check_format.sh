#!/usr/bin/env bash
# Checks that every C++ file git tracks under ROOT is formatted as .clang-format says, with the
# clang-format the tree is formatted with (14; another version formats some constructs otherwise).
# Each file that is not is printed as FILE: what to run; the exit status is 1 when there is one.
# The fixtures of tests/rules/ are left out: they break rules on purpose.
# Usage: check_format.sh [ROOT]   (ROOT: the tree to check, default the repository)
set -euo pipefail

root=$(cd "${1:-$(dirname "$0")/../..}" && pwd)
clang_format=${CLANG_FORMAT:-clang-format}
command -v "$clang_format" >/dev/null ||
  { echo "check_format: $clang_format not found (scripts/install-deps installs it)" >&2; exit 2; }

mapfile -d '' files < <(cd "$root" && git ls-files -z -- '*.cpp' '*.hpp' '*.h' '*.cc' \
  ':(exclude)tests/rules/fixtures/**')
[ ${#files[@]} -gt 0 ] || { echo "check_format: git tracks no C++ file under $root" >&2; exit 2; }

# --dry-run -Werror reports each misplaced character as FILE:LINE:COLUMN: error: ...; one line
# per file is enough to act on.
status=0
output=$(cd "$root" && "$clang_format" --dry-run -Werror "${files[@]}" 2>&1) || status=$?
[ "$status" -eq 0 ] && { echo "check_format: ${#files[@]} C++ files are formatted"; exit 0; }
mapfile -t unformatted < <(sed -nE 's/^(.+):[0-9]+:[0-9]+: error: code should be clang-formatted.*/\1/p' \
  <<<"$output" | sort -u)
if [ ${#unformatted[@]} -eq 0 ]; then
  echo "check_format: $clang_format failed (exit $status):"
  echo "$output"
  exit 2
fi
for file in "${unformatted[@]}"; do
  echo "$file: not formatted as .clang-format says; run: clang-format -i $file"
done
echo "check_format: ${#unformatted[@]} of ${#files[@]} C++ files not formatted"
echo "check_format: checked with $("$clang_format" --version)"
exit 1
