#!/usr/bin/env python3
"""ops/grafana's dashboard parses, and is importable anywhere: its Prometheus data source is a
variable (no data source uid of one installation), it has the `collection` variable, and every
panel queries through that data source with at least one expression.
With --as-rules OUT it also writes every expression as a recording rule (Grafana's variables
replaced by values), for `promtool check rules` to parse the PromQL (tests/ops/check_rules.sh).
Usage: check_dashboard.py DASHBOARD_JSON [--as-rules OUT]"""
import json
import sys


def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))


def as_rules(exprs):
    """A rules file with each expression as a recording rule, the variables given values."""
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for i, e in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$collection", ".*")
        lines += [f"      - record: dashboard_expr_{i}", "        expr: " + json.dumps(e)]
    return "\n".join(lines) + "\n"


def main(path, rules_out=None):
    with open(path, encoding="utf-8") as f:
        dash = json.load(f)  # raises on invalid JSON: the test fails with the position
    errors = []
    variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        errors.append("no `datasource` variable of type datasource for prometheus")
    if "collection" not in variables:
        errors.append("no `collection` variable")
    wanted = {"type": "prometheus", "uid": "${datasource}"}
    count = 0
    exprs = []
    for p in panels(dash.get("panels", [])):
        if p.get("type") == "row":
            continue
        count += 1
        title = p.get("title", "(untitled)")
        targets = p.get("targets", [])
        if not targets or not all(t.get("expr") for t in targets):
            errors.append(f"panel {title!r}: a target without an expression")
        exprs += [t["expr"] for t in targets if t.get("expr")]
        for t in [p] + targets:
            if t.get("datasource") != wanted:
                errors.append(f"panel {title!r}: data source is not the variable: {t.get('datasource')}")
    if count == 0:
        errors.append("no panels")
    for e in errors:
        print(f"{path}: {e}", file=sys.stderr)
    if rules_out:
        with open(rules_out, "w", encoding="utf-8") as f:
            f.write(as_rules(exprs))
    return 1 if errors else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 4) or (len(sys.argv) == 4 and sys.argv[2] != "--as-rules"):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[3] if len(sys.argv) == 4 else None))
