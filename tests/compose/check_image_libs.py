#!/usr/bin/env python3
"""Every shared library a binary needs is installed in its image's runtime stage.

For each STAGE=BINARY, the NEEDED entries of the binary (readelf -d) are mapped to the Debian
packages that ship them on this machine (dpkg -S), and each must be one of the packages the stage
installs, with everything those depend on (apt-cache depends --recurse), or of the base image's
(Priority: required, as in the debian image). Stages inherit the packages of the stage they are
built FROM. The mapping is this machine's, so the base image must be its Debian release.

Usage: check_image_libs.py DIR STAGE=BINARY... (DIR holds the Dockerfile). Prints one line per
missing library (stage: library (package) ...); exits 1 if there is any, 0 if none."""

import os
import re
import shlex
import subprocess
import sys

LIB_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def stages(dockerfile):
    """{stage: (base image or stage, [packages apt-get installs in it])}, in order."""
    text = open(dockerfile, encoding="utf-8").read()
    logical, current = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#"):
            continue  # a comment, even inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    out, name = {}, None
    for line in logical:
        words = line.split()
        if not words:
            continue
        if words[0].upper() == "FROM":
            base = words[1]
            name = words[3] if len(words) > 3 and words[2].upper() == "AS" else base
            out[name] = (base, [])
        elif words[0].upper() == "RUN" and name:
            for command in re.split(r"&&|\|\||;|\|", line[len(words[0]):]):
                tokens = shlex.split(command)
                tokens = [t for t in tokens if not re.match(r"^[A-Z_]+=", t)]  # VAR=value prefixes
                if len(tokens) > 1 and tokens[0] in ("apt-get", "apt") and "install" in tokens:
                    after = tokens[tokens.index("install") + 1:]
                    out[name][1].extend(t.split("=")[0] for t in after if not t.startswith("-"))
    return out


def base_packages():
    listed = run("dpkg-query", "-W", "-f", "${Package}\t${Priority}\t${Essential}\n")
    return [p for p, prio, essential in (l.split("\t") for l in listed.stdout.splitlines())
            if prio == "required" or essential == "yes"]


def dependency_graph(packages):
    """{package: the packages it depends on} for `packages` and all they reach (apt-cache depends
    --recurse, one run: each reached package once, with its direct dependencies; a virtual
    package's providers, indented further, count as its dependencies). None names an unknown one."""
    result = run("apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
                 "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *packages)
    if result.returncode != 0:
        return None, result.stderr.strip()
    graph, current = {}, None
    for line in result.stdout.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            current = line.strip().strip("<>")
            graph.setdefault(current, set())
        elif current is not None:
            target = line.strip().lstrip("|").split(":", 1)[-1].strip().strip("<>")
            graph[current].add(target)
    unknown = [p for p in packages if p not in graph]
    if unknown:
        return None, "unknown to apt: " + " ".join(unknown)
    return graph, ""


def closure(graph, packages):
    reached, todo = set(), list(packages)
    while todo:
        p = todo.pop()
        if p not in reached:
            reached.add(p)
            todo.extend(graph.get(p, ()))
    return reached


def providers(libraries):
    """{library: the packages that ship it in a library directory}, from one dpkg -S."""
    result = run("dpkg", "-S", *("*/" + lib for lib in libraries))
    owners = {lib: set() for lib in libraries}
    for line in result.stdout.splitlines():
        packages, _, path = line.partition(": ")
        library = os.path.basename(path)
        if library in owners and os.path.dirname(path).startswith(LIB_DIRS):
            owners[library].update(p.strip().split(":")[0] for p in packages.split(","))
    return owners


def needed(binary):
    result = run("readelf", "-d", binary)
    if result.returncode != 0:
        sys.exit(f"check_image_libs: readelf -d {binary}: {result.stderr.strip()}")
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", result.stdout)


def debian_release():
    with open("/etc/os-release", encoding="utf-8") as f:
        fields = dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)
    return fields.get("ID", "").strip('"'), fields.get("VERSION_ID", "").strip('"')


def main():
    if len(sys.argv) < 3 or any("=" not in a for a in sys.argv[2:]):
        print(__doc__, file=sys.stderr)
        return 2
    dockerfile = os.path.join(sys.argv[1], "Dockerfile")
    declared = stages(dockerfile)
    machine = ":".join(debian_release())
    base = base_packages()
    checks, problems = [], []
    for pair in sys.argv[2:]:
        stage, binary = pair.split("=", 1)
        if stage not in declared:
            problems.append(f"{stage}: no such stage in {dockerfile}")
            continue
        packages, image = list(base), stage
        while image in declared:
            image, own = declared[image]
            packages += own
        if image != machine:
            problems.append(f"{stage}: built from {image}, but this machine is {machine}: its "
                            f"package metadata cannot vouch for that image")
            continue
        checks.append((stage, packages, needed(binary)))
    if checks:
        graph, why = dependency_graph(sorted({p for _, packages, _ in checks for p in packages}))
        if graph is None:
            problems.append(f"the packages the stages install cannot be resolved: {why}")
            checks = []
        else:
            owners = providers(sorted({lib for _, _, libs in checks for lib in libs}))
    for stage, packages, libraries in checks:
        installed = closure(graph, packages)
        missing = 0
        for library in libraries:
            if not owners[library]:
                problems.append(f"{stage}: {library} is in no Debian package on this machine")
                missing += 1
            elif not installed & owners[library]:
                problems.append(f"{stage}: {library} ({', '.join(sorted(owners[library]))}) is "
                                f"not installed by the stage or its dependencies")
                missing += 1
        if not missing:
            print(f"check_image_libs: {stage}: each of its {len(libraries)} libraries is installed")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
