"""The routing microbenchmarks (crates/route/benches): the one-shot figures, and in full runs
criterion's estimates, summarised into a table."""

import os
import re
import subprocess


def _cargo(args, root, env=None, timeout=3600):
    done = subprocess.run(["cargo"] + args, cwd=root, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))
    if done.returncode != 0:
        raise RuntimeError(f"cargo {' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


def figures_section(text):
    start = text.find("## Routing microbenchmark figures")
    if start < 0:
        raise RuntimeError("the figures bench printed no report")
    body = text[start:].split("\n", 1)[1]
    lines = []
    for line in body.splitlines():
        if line.startswith("     Running") or line.startswith("Testing "):
            break
        lines.append(line.replace("### ", "#### "))
    return "\n".join(lines).strip()


_CRITERION = re.compile(r"^(\S+)\s*\n?\s*time:\s+\[([\d.]+ \S+) ([\d.]+ \S+) ([\d.]+ \S+)\]", re.M)


def criterion_table(text):
    rows = ["| benchmark | low | estimate | high |", "|---|---:|---:|---:|"]
    for m in _CRITERION.finditer(text):
        rows.append(f"| {m.group(1)} | {m.group(2)} | {m.group(3)} | {m.group(4)} |")
    return "\n".join(rows) if len(rows) > 2 else "(criterion printed no estimates)"


def run(root, quick, log):
    """Returns (markdown, commands)."""
    if quick:
        cmd = ["test", "-p", "fairlead-route", "--benches"]
        log("microbenchmarks: quick smoke run (debug build, small sizes)")
        out = _cargo(cmd, root, env={"FAIRLEAD_BENCH_QUICK": "1"}, timeout=1200)
        md = ["Quick mode: debug build and sizes up to 1,000 routes; the numbers only show the benches run.",
              "", figures_section(out)]
        return "\n".join(md), ["FAIRLEAD_BENCH_QUICK=1 cargo " + " ".join(cmd)]
    fig_cmd = ["bench", "-p", "fairlead-route", "--bench", "figures"]
    crit_cmd = ["bench", "-p", "fairlead-route", "--bench", "matching", "--bench", "compile"]
    log("microbenchmarks: figures")
    figures = figures_section(_cargo(fig_cmd, root))
    log("microbenchmarks: criterion (several minutes)")
    crit = criterion_table(_cargo(crit_cmd, root))
    md = [figures, "", "#### Criterion estimates (mean time per iteration; lookup = one request)", "", crit]
    return "\n".join(md), ["cargo " + " ".join(fig_cmd), "cargo " + " ".join(crit_cmd)]


def parse_figures(md):
    """Pulls the goal-relevant numbers out of the figures markdown."""
    found = {}
    section = None
    for line in md.splitlines():
        if line.startswith("####"):
            section = line
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not cells or not cells[0].isdigit():
            continue
        n = int(cells[0])
        if "Lookup latency" in (section or ""):
            found.setdefault("lookup", {})[n] = {"mean": float(cells[1]), "hot": float(cells[2]),
                                                 "p50": float(cells[3]), "p99": float(cells[4]),
                                                 "p999": float(cells[5])}
        elif "Wildcard" in (section or ""):
            found.setdefault("wildcard", {})[n] = {"mean": float(cells[1]), "hot": float(cells[2])}
        elif "Compile" in (section or ""):
            found.setdefault("compile", {})[n] = {"compile": float(cells[1]), "serialize": float(cells[2]),
                                                  "both": float(cells[3]), "table_bytes": float(cells[7])}
    return found
