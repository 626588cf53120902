"""bench/run.sh's harness: starts the backend, fairlead, nginx and HAProxy, drives each scenario
with wrk or h2load, measures the control plane and the routing microbenchmarks, and prints
markdown tables (also written to --out).

Exit status: 0 when every supported contender was measured in every selected scenario, 1 when
something could not be measured (a broken harness or a contender that failed), 2 on bad usage.
Timing never decides the exit status.
"""

import argparse
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

import contenders
import controlplane
import load
import micro
import procs
import scenarios

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL = list(scenarios.SCENARIOS) + ["control-plane", "micro"]


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one short run per scenario, small sizes (CI)")
    p.add_argument("--scenario", action="append", choices=ALL, help="run only these (repeatable)")
    p.add_argument("--runs", type=int, help="runs per contender and level (default 3; quick 1)")
    p.add_argument("--duration", type=int, help="seconds per measured run (default 10; quick 1)")
    p.add_argument("--warmup", type=int, help="unmeasured seconds before each run (default 2; quick 0)")
    p.add_argument("--port-base", type=int, default=18100, help="first of the ~40 ports used")
    p.add_argument("--fairlead", required=True, help="fairlead binary")
    p.add_argument("--backend", required=True, help="fairlead-bench-backend binary")
    p.add_argument("--build", default="release", help="build profile of the binaries (for the report)")
    p.add_argument("--out", help="markdown file to write (default: bench/RESULTS.md for a full run of "
                                 "everything, else target/bench/latest.md)")
    p.add_argument("--pid-file", help="file listing the PIDs of started processes")
    p.add_argument("--command", default="bench/run.sh", help="the command line, for the report")
    p.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs)")
    p.add_argument("--note", action="append", default=[], help="a line for the report's header (repeatable)")
    opts = p.parse_args(argv)
    opts.runs = opts.runs or (1 if opts.quick else 3)
    opts.duration = opts.duration or (1 if opts.quick else 10)
    opts.warmup = opts.warmup if opts.warmup is not None else (0 if opts.quick else 2)
    if opts.runs < 1 or opts.duration < 1 or opts.warmup < 0:
        p.error("--runs and --duration must be at least 1, --warmup at least 0")
    if not opts.out:
        everything = not opts.scenario and not opts.quick
        opts.out = os.path.join(ROOT, "bench", "RESULTS.md") if everything else \
            os.path.join(ROOT, "target", "bench", "latest.md")
    return opts


def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except subprocess.TimeoutExpired:
        return ""


def machine_facts():
    model = sh("lscpu | sed -n 's/^Model name:[[:space:]]*//p'")
    mem = sh("free -m | awk '/^Mem:/ {print $2}'")
    return [
        f"- CPUs (nproc): {os.cpu_count()} — {model}",
        f"- memory (free -m, total): {mem} MiB",
        f"- kernel: {platform.release()}",
        f"- load generators: {sh('wrk -v 2>&1 | head -1').split(' Copyright')[0]}; {sh('h2load --version | head -1')}",
        f"- nginx: {sh('nginx -v 2>&1')}; HAProxy: {sh('haproxy -v | head -1').split(' - ')[0]}",
        f"- rustc: {sh('rustc --version')}",
    ]


HARNESS_PATHS = ("bench/", "crates/route/benches/", "crates/route/Cargo.toml", "Cargo.toml", "Cargo.lock")


def commit():
    """HEAD, and which files outside the benchmark harness differ from it (they change what is measured)."""
    head = sh(f"git -C {ROOT} rev-parse HEAD") or "unknown"
    try:
        porcelain = subprocess.run(["git", "-C", ROOT, "status", "--porcelain"], capture_output=True, text=True,
                                   timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        porcelain = ""
    changed = [line[3:] for line in porcelain.splitlines() if len(line) > 3]
    others = [p for p in changed if not p.startswith(HARNESS_PATHS)]
    if others:
        return f"{head}, with uncommitted changes to: {', '.join(others)}"
    return head + (" (uncommitted changes only in the benchmark harness)" if changed else "")


def make_tls(workdir):
    cert, key, both = (os.path.join(workdir, n) for n in ("cert.pem", "key.pem", "both.pem"))
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=bench.example.com",
         "-addext", "subjectAltName=DNS:bench.example.com"],
        check=True, capture_output=True, timeout=30)
    with open(both, "w") as out:
        for path in (cert, key):
            with open(path) as f:
                out.write(f.read())
    return (cert, key, both)


def goals(keepalive, cp, figures):
    """Which goals of the issue the numbers meet; None when not measured."""
    out = []

    def verdict(ok):
        return "–" if ok is None else ("met" if ok else "NOT met")

    if keepalive:
        for level in (16, 256):
            f, n, h = (keepalive.get((c, level), {}) for c in ("fairlead", "nginx", "haproxy"))
            if all("rps" in s for s in (f, n, h)):
                ok = f["rps"] >= 1.2 * n["rps"] and f["rps"] >= h["rps"] and f["p99"] <= h["p99"]
                out.append(f"| scenario 1 at {level} conns: req/s ≥ 1.2× nginx, ≥ HAProxy, p99 ≤ HAProxy's | "
                           f"{f['rps'] / n['rps']:.2f}× nginx, {f['rps'] / h['rps']:.2f}× HAProxy, p99 "
                           f"{f['p99']} vs {h['p99']} µs | {verdict(ok)} |")
        f, d = keepalive.get(("fairlead", 1), {}), keepalive.get(("direct", 1), {})
        if "p50" in f and "p50" in d:
            added = f["p50"] - d["p50"]
            out.append(f"| 1 conn: ≤ 30 µs added to p50 vs direct | {added:.0f} µs | {verdict(added <= 30)} |")
    if figures.get("lookup", {}).get(100000):
        p99 = figures["lookup"][100000]["p99"]
        out.append(f"| lookup p99 ≤ 1 µs at 100,000 routes | {p99:.0f} ns (includes the clock read) | "
                   f"{verdict(p99 <= 1000)} |")
    wild = figures.get("wildcard", {})
    if len(wild) >= 2:
        lo, hi = wild[min(wild)], wild[max(wild)]
        # Judged on hot caches: an algorithm that scans grows there; cache misses do not show.
        out.append(f"| host lookup flat in the number of hosts (no scan over wildcards) | hot caches: "
                   f"{lo['hot']:.0f} ns at {min(wild):,} → {hi['hot']:.0f} ns at {max(wild):,} wildcard hosts "
                   f"(spread over all hosts: {lo['mean']:.0f} → {hi['mean']:.0f} ns) | "
                   f"{verdict(hi['hot'] <= 2 * lo['hot'])} |")
    comp = figures.get("compile", {}).get(20000)
    if comp:
        out.append(f"| 20,000 routes: compile + serialize + hash ≤ 50 ms | {comp['both']:.1f} ms | "
                   f"{verdict(comp['both'] <= 50)} |")
    for row in (cp.rows if cp else []):
        if row["routes"] == 3000 and row["propagation"]:
            med = sorted(row["propagation"])[len(row["propagation"]) // 2]
            out.append(f"| propagation ≤ 30 ms at 3,000 routes | {med:.1f} ms median | {verdict(med <= 30)} |")
        if row["routes"] == 5000:
            mib = row["rss_kib"] / 1024
            out.append(f"| RSS ≤ 40 MB with 5,000 routes | {mib:.1f} MiB | {verdict(mib * 1.048576 <= 40)} |")
    if not out:
        return ""
    return "\n".join(["| goal | measured | verdict |", "|---|---|---|"] + out)


def main(argv):
    opts = parse_args(argv)
    selected = opts.scenario or ALL
    base = opts.port_base
    ports = [base, *range(base + 10, base + 15), *range(base + 20, base + 23), *range(base + 30, base + 33)]
    busy = [p for p in ports if not contenders.port_is_free(p)]
    if busy:
        log(f"ports in use: {busy}; pick another --port-base")
        return 2
    # What is measured is what was built just before the run: read the commit now, not at the end.
    built_from = commit()
    opts.workdir = tempfile.mkdtemp(prefix="fairlead-bench-")
    procs.set_pid_file(opts.pid_file or os.path.join(opts.workdir, "pids"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    failures, sections, commands = [], [], {}
    keepalive = {}
    cp_figures, figures = None, {}
    workers = os.cpu_count() or 1
    began = time.monotonic()
    try:
        backend = contenders.Backend(opts.backend, base, opts.workdir)
        backend.start()
        commands["backend"] = f"{opts.backend} --listen 127.0.0.1:{base}"
        all_contenders = [
            contenders.Direct(backend),
            contenders.Fairlead(opts.fairlead, base + 10, base, opts.workdir),
            contenders.Nginx(base + 20, base, workers, opts.workdir),
            contenders.Haproxy(base + 30, base, workers, opts.workdir),
        ]
        scripts = load.write_scripts(opts.workdir)
        tls_files = make_tls(opts.workdir) if "https" in selected else None
        for name, defn in scenarios.SCENARIOS.items():
            if name not in selected:
                continue
            log(f"scenario {name}")
            try:
                md, fails, cmds, summaries = scenarios.run_scenario(
                    name, defn, all_contenders, backend, opts, scripts, tls_files, log)
            except Exception as e:  # one broken scenario must not hide the others
                failures.append(f"{name}: harness error: {e!r}")
                log(traceback.format_exc())
                continue
            sections.append(md)
            failures += fails
            for c, cmd in cmds.items():
                commands[f"{name} / {c}"] = cmd
            if name == "keepalive":
                keepalive = summaries
        for c in all_contenders[1:]:
            if c.command():
                commands[c.name] = c.command()
        if "control-plane" in selected:
            log("control plane")
            cp_figures = controlplane.run(opts.fairlead, base, base + 10, opts.workdir, opts.quick, log)
            failures += [f"control plane: {n}" for n in cp_figures.notes]
            sections.append("### Control plane (fairlead)\n\n" + controlplane.DESCRIPTION + "\n\n"
                            + controlplane.table(cp_figures) + "\n")
        backend.stop()
        if "micro" in selected:
            try:
                md, cmds = micro.run(ROOT, opts.quick, log)
                figures = micro.parse_figures(md)
                sections.append("### Routing microbenchmarks (crates/route/benches)\n\n" + md + "\n")
                for i, c in enumerate(cmds):
                    commands[f"micro {i + 1}"] = c
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                failures.append(f"microbenchmarks: {str(e)[:2000]}")
    except KeyboardInterrupt:
        failures.append("interrupted")
    except Exception as e:  # the report must still be written, and the exit status say it failed
        failures.append(f"harness error: {e!r}")
        log(traceback.format_exc())
    except SystemExit as e:
        failures.append(f"stopped (exit {e.code})")
    finally:
        procs.stop_all()
        if not opts.keep:
            shutil.rmtree(opts.workdir, ignore_errors=True)
        else:
            log(f"work directory kept: {opts.workdir}")

    goal_md = goals(keepalive, cp_figures, figures)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    doc = [
        "# fairlead benchmark results" + (" (quick smoke run: numbers are not meaningful)" if opts.quick else ""),
        "",
        f"- date: {now}; wall time of the run: {time.monotonic() - began:.0f} s",
        f"- commit: {built_from}",
        f"- binaries: {opts.build} build of that tree (copied before the run)",
        *[f"- note: {n}" for n in opts.note],
        f"- command: `{opts.command}`",
        f"- runs per contender and level: {opts.runs} × {opts.duration} s measured (after {opts.warmup} s "
        f"unmeasured warm-up each), contenders interleaved; tables give the median and the range over runs",
        f"- workers: fairlead runtime threads = nginx worker_processes = HAProxy nbthread = {workers}; "
        f"backend: 1 thread",
        "",
        "## Machine",
        "",
        *machine_facts(),
        "",
    ]
    if goal_md and not opts.quick:
        doc += ["## Goals", "", goal_md, ""]
    doc += ["## Scenarios", "", *sections]
    doc += ["## Exact commands", "",
            "`$WORK` is the run's temporary directory holding the generated configs (kept with `--keep`).", "",
            "```"] + [f"{k}: {v}" for k, v in commands.items()] + ["```", ""]
    if failures:
        doc += ["## Problems", ""] + [f"- {f}" for f in failures] + [""]
    # No machine-specific paths in the report: the work directory becomes $WORK, the checkout `.`.
    text = "\n".join(doc).replace(opts.workdir, "$WORK")
    for binary in (opts.fairlead, opts.backend):  # run from private copies: show their names only
        text = text.replace(os.path.dirname(binary) + "/", "")
    text = text.replace(ROOT + "/", "")
    print(text)
    os.makedirs(os.path.dirname(opts.out), exist_ok=True)
    with open(opts.out, "w") as f:
        f.write(text)
    log(f"written to {opts.out}")
    if failures:
        log(f"{len(failures)} problem(s):\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
