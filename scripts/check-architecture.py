#!/usr/bin/env python3
"""The workspace's shape, checked on every test run (docs/architecture.md):

1. no source file under crates/*/src is over 600 lines;
2. no import circle between the files (modules) of any crate: `use crate::a::…` and
   `crate::a::…` paths form a graph of modules, which must be acyclic (a module's own
   submodules and its parent do not count: they are one unit);
3. the dependency rules between crates hold (`cargo tree`, normal dependencies).

Exit status 1 with one line per violation.
"""
import os
import re
import subprocess
import sys

ROOT = os.environ.get("ARCH_ROOT") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 600
problems = []


def module_of(crate_src, path):
    rel = os.path.relpath(path, crate_src)[:-3]  # drop .rs
    parts = rel.split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def top(mod):
    return mod[:1]


for crate in sorted(os.listdir(os.path.join(ROOT, "crates"))):
    src = os.path.join(ROOT, "crates", crate, "src")
    if not os.path.isdir(src):
        continue
    edges = {}
    for dirpath, _, files in os.walk(src):
        for f in files:
            if not f.endswith(".rs"):
                continue
            path = os.path.join(dirpath, f)
            text = open(path, encoding="utf-8").read()
            n = text.count("\n")
            if n > MAX_LINES:
                problems.append(f"{os.path.relpath(path, ROOT)}: {n} lines (over {MAX_LINES})")
            # Test modules may reach anywhere.
            text = text.split("#[cfg(test)]")[0]
            mod = module_of(src, path)
            deps = set()
            for m in re.finditer(r"crate::([a-z_][a-z0-9_]*)", text):
                deps.add((m.group(1),))
            for m in re.finditer(r"use crate::\{([^}]*)\}", text, re.S):
                for name in re.findall(r"(?:^|,)\s*([a-z_][a-z0-9_]*)\s*(?:::|,|$)", m.group(1)):
                    deps.add((name,))
            for m in re.finditer(r"use super::([a-z_][a-z0-9_]*)", text):
                if len(mod) >= 1:
                    deps.add(mod[:-1] + (m.group(1),))
            node = mod
            for d in deps:
                if d and node[: len(d)] != d and d[: len(node)] != node:
                    edges.setdefault(node, set()).add(d)
    # Only edges to modules that exist as files matter (items re-exported at the
    # crate root are not modules).
    modules = set()
    for dirpath, _, files in os.walk(src):
        for f in files:
            if f.endswith(".rs"):
                modules.add(module_of(src, os.path.join(dirpath, f)))
    graph = {a: {b for b in bs if b in modules} for a, bs in edges.items()}
    state = {}
    stack = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                cycle = stack[stack.index(m):] + [m]
                problems.append(
                    f"crates/{crate}: import circle " + " -> ".join("::".join(c) or "lib" for c in cycle)
                )
            elif state.get(m) is None:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in list(graph):
        if state.get(n) is None:
            visit(n)

RULES = [
    ("relay-source", ["async-nats", "aws-sdk-sqs", "azure_storage_queue", "reqwest", "relay-sinks", "relay-pipeline", "relay-catalog"]),
    ("relay-pipeline", ["relay-catalog", "relay-sinks", "relay-source", "tokio-postgres", "async-nats", "aws-sdk-sqs", "azure_storage_queue", "reqwest"]),
    ("relay-sinks", ["pgwire-replication", "tokio-postgres", "relay-catalog", "relay-source", "relay-pipeline"]),
    ("relay-contracts", ["tokio-postgres", "pgwire-replication", "async-nats", "tokio", "hyper", "reqwest"]),
    ("relay-capture", ["tokio-postgres", "pgwire-replication", "async-nats", "tokio"]),
]
for crate, banned in RULES:
    if "--no-cargo" in sys.argv:
        break
    out = subprocess.run(
        ["cargo", "tree", "-p", crate, "-e", "normal", "--prefix", "none", "--all-features", "--offline"],
        cwd=ROOT, capture_output=True, text=True,
    )
    if out.returncode != 0:
        problems.append(f"cargo tree -p {crate} failed: {out.stderr.strip()[:200]}")
        continue
    names = {line.split(" ")[0] for line in out.stdout.splitlines() if line.strip()}
    for b in banned:
        if b in names:
            problems.append(f"{crate} depends on {b} (see docs/architecture.md)")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print("architecture: file sizes, import graph and crate dependencies as documented")
