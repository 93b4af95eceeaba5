#!/usr/bin/env python3
"""Every relative link of README.md and docs/*.md resolves: the file exists and, for a #anchor,
the target Markdown file has a heading (or an <a id>/<a name>) with that slug, as GitHub makes
them: lowercase, punctuation other than '-' and '_' dropped, each space a '-', a repeated heading
suffixed -1, -2, ... Links inside code (fenced blocks, `spans`) are not links.

Usage: check_links.py ROOT. Prints one line per broken link (file:line: target: why); exits 1 if
there is any, 0 if none."""

import os
import pathlib
import re
import sys

INLINE = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
DEFINITION = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...


def outside_fences(text):
    """(line number, line) of the lines outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def prose_lines(text):
    """outside_fences(), inline code spans removed."""
    for number, line in outside_fences(text):
        yield number, re.sub(r"(`+).*?\1", "", line)


def slug(heading):
    text = re.sub(r"<[^>]+>", "", heading)  # inline HTML
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # a link's text stays, its target goes
    text = text.lower()
    text = "".join(c for c in text if c.isalnum() or c in " -_")
    return text.replace(" ", "-")


anchors_of = {}


def anchors(path):
    if path not in anchors_of:
        found, seen = set(), {}
        for _, line in outside_fences(path.read_text(encoding="utf-8")):
            found.update(HTML_ANCHOR.findall(line))
            h = HEADING.match(line)
            if h:
                base = slug(h.group(2))
                n = seen.get(base, 0)
                seen[base] = n + 1
                found.add(base if n == 0 else f"{base}-{n}")
        anchors_of[path] = found
    return anchors_of[path]


def check(root, doc):
    problems = []
    text = doc.read_text(encoding="utf-8")
    for number, line in prose_lines(text):
        targets = INLINE.findall(line)
        d = DEFINITION.match(line)
        if d:
            targets.append(d.group(1))
        for target in targets:
            if not target or EXTERNAL.match(target):
                continue
            path_part, _, anchor = target.partition("#")
            where = f"{doc.relative_to(root)}:{number}: {target}"
            linked = (doc.parent / path_part).resolve() if path_part else doc
            if not linked.exists():
                problems.append(f"{where}: no such file")
                continue
            if anchor and linked.suffix == ".md" and anchor not in anchors(linked):
                problems.append(f"{where}: no heading with the anchor #{anchor} in "
                                f"{os.path.relpath(linked, root)}")
    return problems


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root = pathlib.Path(sys.argv[1]).resolve()
    docs = [root / "README.md"] + sorted((root / "docs").glob("*.md"))
    problems = []
    for doc in docs:
        if doc.exists():
            problems += check(root, doc)
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"check_links: every relative link of {len(docs)} files resolves")
    return 0


if __name__ == "__main__":
    sys.exit(main())
