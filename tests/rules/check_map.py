#!/usr/bin/env python3
"""Checks that docs/architecture.md's map ("The parts and their files") matches the tree.

Each folder of shared/, ingress/ and worker/ that holds C++ files has a heading there
("### `shared/cache/`: ..."), and under it every C++ file of that folder is named (`name.*`,
`name.hpp`, `name.cpp`), and every name is a file of it. So a newcomer finds where a behaviour
lives in one hop from the map, and the map cannot drift from the tree unnoticed.
Every problem is printed as FILE:LINE: what; the exit status is 1 when there is one.
Usage: check_map.py [ROOT]   (ROOT: the tree to check, default the repository)
"""
import os
import re
import sys

root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), '..', '..'))
doc = 'docs/architecture.md'
parts = ('shared', 'ingress', 'worker')
source = re.compile(r'\.(cpp|hpp|h)$')
named = re.compile(r'`([A-Za-z0-9_]+)(\.\*|\.cpp|\.hpp|\.h)`')
heading = re.compile(r'^###\s+`([^`]+)/`')

problems = []


def problem(line, what):
    problems.append(f'{doc}:{line}: {what}')


def folders():
    """Every folder under the parts that holds C++ files, relative to ROOT."""
    for part in parts:
        for here, dirs, files in os.walk(os.path.join(root, part)):
            dirs.sort()
            if any(source.search(f) for f in files):
                yield os.path.relpath(here, root)


with open(os.path.join(root, doc), encoding='utf-8') as f:
    lines = f.read().split('\n')
try:
    start = next(i for i, l in enumerate(lines) if l.strip() == '## The parts and their files')
except StopIteration:
    print(f'{doc}: no section "The parts and their files"')
    sys.exit(1)

sections = {}  # folder -> (heading line, [(line, name, ext)])
current = None
for i in range(start + 1, len(lines)):
    text = lines[i]
    if text.startswith('## '):
        break
    m = heading.match(text)
    if m:
        current = m.group(1)
        sections[current] = (i + 1, [])
        continue
    if text.startswith('### '):
        current = None
    elif current:
        sections[current][1].extend((i + 1, n, e) for n, e in named.findall(text))

for folder in folders():
    if folder not in sections:
        problem(start + 1, f'{folder}/ holds C++ files and has no heading in the map')
        continue
    heading_line, names = sections[folder]
    files = sorted(f for f in os.listdir(os.path.join(root, folder))
                   if source.search(f) and os.path.isfile(os.path.join(root, folder, f)))
    covered = set()
    for line, name, ext in names:
        matches = [f for f in files if os.path.splitext(f)[0] == name and
                   (ext == '.*' or f.endswith(ext))]
        if not matches:
            problem(line, f'`{name}{ext}` names no file in {folder}/')
        covered.update(matches)
    for f in files:
        if f not in covered:
            problem(heading_line, f'{folder}/{f} is not named under this heading')
for folder, (line, _) in sections.items():
    if not os.path.isdir(os.path.join(root, folder)):
        problem(line, f'{folder}/ is not a folder of the tree')

for p in problems:
    print(p)
if problems:
    print(f'check_map: {len(problems)} problem(s) in {doc}', file=sys.stderr)
    sys.exit(1)
print(f'check_map: {doc} names every C++ file of ' + ', '.join(p + '/' for p in parts))
