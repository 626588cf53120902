"""`bench/run.sh --profile`: where the proxies spend their time on the keep-alive small-GET
scenario (scenario 1), with measurements that do not depend on how busy the machine is.

For fairlead, nginx and HAProxy, each serving the same site:
- callgrind: user-space instructions per request over exactly --requests requests (counters
  zeroed after a warm-up), and fairlead's top functions, self and inclusive;
- perf stat: system calls, context switches and CPU time per request (kernel included);
- perf record (cpu-clock sampling, fairlead only): the share of samples per symbol, kernel
  included, which callgrind cannot see.

Fixed request counts come from `h2load --h1 -n N` (wrk only runs for a duration). The summary
goes to stdout and target/bench/profile/summary.md; raw outputs stay in target/bench/profile.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import contenders
import procs
import sites

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "target", "bench", "profile")


def log(msg):
    print(f"[profile {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def h1_load(port, host, n, conns=16, timeout=600):
    argv = ["h2load", "--h1", "-t", "1", "-c", str(conns), "-n", str(n), "-H", f":authority: {host}",
            f"http://127.0.0.1:{port}/"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    m = re.search(r"status codes: (\d+) 2xx", done.stdout)
    if done.returncode != 0 or not m or int(m.group(1)) != n:
        raise RuntimeError(f"{' '.join(argv)} did not get {n} 2xx:\n{done.stdout[-1500:]}")
    return argv


def make(name, base, backend_port, workdir, workers, fairlead_bin):
    if name == "fairlead":
        return contenders.Fairlead(fairlead_bin, base + 10, backend_port, workdir)
    if name == "nginx":
        return contenders.Nginx(base + 20, backend_port, workers, workdir)
    return contenders.Haproxy(base + 30, backend_port, max(workers, 1), workdir)


def callgrind(name, opts, backend_port, workdir):
    out_file = os.path.join(OUT, f"callgrind.{name}.out")
    for old in (out_file,):
        if os.path.exists(old):
            os.remove(old)
    # Under valgrind: nginx as one process, HAProxy one thread (valgrind runs threads one at a time
    # anyway); fairlead keeps its default runtime.
    c = make(name, opts.port_base, backend_port, workdir, 0, opts.fairlead)
    c.wrapper = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", "--dump-instr=no"]
    c.start_timeout = 180
    c.start(sites.Site())
    try:
        port, host = c.ports["h1"], sites.SINGLE_HOST
        h1_load(port, host, 2000)  # warm-up: pools, allocator, lazy statics
        subprocess.run(["callgrind_control", "-z", str(c.proc.pid)], capture_output=True, timeout=60)
        h1_load(port, host, opts.requests)
        # The dump request is served when the process next wakes up: one more request wakes it.
        dumper = subprocess.Popen(["callgrind_control", "-d", str(c.proc.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        h1_load(port, host, 1, conns=1)
        dumper.wait(timeout=120)
    finally:
        c.stop()
    dumps = sorted(f for f in os.listdir(OUT) if f.startswith(f"callgrind.{name}.out") and f != os.path.basename(out_file))
    # With -d the dump is written as <file>.<n>; the final one at exit is <file> itself.
    dump = os.path.join(OUT, dumps[-1]) if dumps else out_file
    total = _callgrind_total(dump)
    return {"dump": dump, "ir_per_request": total / (opts.requests + 1) if total else None}


def _callgrind_total(path):
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("summary:") or line.startswith("totals:"):
                return int(line.split()[1])
    return 0


def callgrind_costs(dump):
    """Self and inclusive instruction counts per function, read from a callgrind dump.

    (callgrind_annotate 3.19 attributes self costs of a dump taken with `callgrind_control -d`
    to the thread entry point, so the format is read here: cost lines after `calls=` are the
    inclusive cost of that call, every other cost line is the current function's own.)
    """
    names, self_cost, call_cost = {}, {}, {}
    fn = callee = None
    in_call = False

    def resolve(rest):
        rest = rest.strip()
        if rest.startswith("("):
            ident, _, name = rest[1:].partition(")")
            if name.strip():
                names[ident] = name.strip()
            return names.get(ident, ident)
        return rest

    with open(dump, errors="replace") as f:
        for line in f:
            if line.startswith("fn="):
                fn = resolve(line[3:])
            elif line.startswith("cfn="):
                callee = resolve(line[4:])
            elif line.startswith("calls="):
                in_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                cost = int(parts[1]) if len(parts) > 1 else 0
                if in_call:
                    if callee != fn:  # a recursive call is already counted inside
                        call_cost[fn] = call_cost.get(fn, 0) + cost
                    in_call = False
                else:
                    self_cost[fn] = self_cost.get(fn, 0) + cost
    inclusive = {k: self_cost.get(k, 0) + call_cost.get(k, 0) for k in set(self_cost) | set(call_cost)}
    return self_cost, inclusive


def top_functions(costs, total, requests, top, skip_above=None):
    rows = []
    for name, cost in sorted(costs.items(), key=lambda kv: -kv[1]):
        share = cost / total * 100 if total else 0
        if skip_above is not None and share >= skip_above:
            continue
        rows.append((share, cost / requests, name[:160]))
        if len(rows) >= top:
            break
    return rows


def bench_binary(name):
    """Builds the route crate's bench binaries and returns the path of `name`."""
    done = subprocess.run(["cargo", "bench", "-p", "fairlead-route", "--bench", name, "--no-run",
                           "--message-format=json"], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    for line in done.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == name \
                and msg.get("executable"):
            return msg["executable"]
    raise RuntimeError(f"no executable for bench {name}:\n{done.stderr[-2000:]}")


def lookup_profile(routes, top):
    """callgrind over `Table::lookup` only (collection toggled on entering it), replaying the
    `matching` bench's mixed workload: instructions per lookup and where they go."""
    binary = bench_binary("matching")
    dump = os.path.join(OUT, f"callgrind.lookup-{routes}.out")
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={dump}",
                    "--toggle-collect=fairlead_route::table::Table::lookup", binary, "--bench",
                    "--profile-time", "2", f"lookup_mixed/{routes}$"],
                   capture_output=True, text=True, timeout=1800, check=True)
    calls = 0
    names, callee = {}, None
    with open(dump, errors="replace") as f:
        for line in f:
            if line.startswith("cfn="):
                rest = line[4:].strip()
                ident, _, name = rest[1:].partition(")")
                if name.strip():
                    names[ident] = name.strip()
                callee = names.get(ident, "")
            elif line.startswith("calls=") and callee is not None:
                if callee.endswith("Table::lookup"):
                    calls += int(line[6:].split()[0])
                callee = None
    total = _callgrind_total(dump)
    self_cost, _ = callgrind_costs(dump)
    return {"per_lookup": total / calls if calls else None, "calls": calls,
            "top": top_functions(self_cost, total, max(calls, 1), top)}


def _fairlead_with_routes(opts, backend_port, workdir, routes, wrapper):
    c = contenders.Fairlead(opts.fairlead, opts.port_base + 10, backend_port, workdir)
    c.wrapper = wrapper
    c.start_timeout = 600
    c.start(sites.Site(hosts=routes, rules=[None]))
    return c


_MASSIF_NODE = re.compile(r"^( *)n(\d+): (\d+) (.*)$")
_FAIRLEAD_FN = re.compile(r"0x[0-9A-F]+: (fairlead[a-z_]*::[^ (]*)")


def massif_owners(snapshot):
    """Live heap bytes of a detailed massif snapshot, grouped by the outermost and innermost
    fairlead function on each allocation's stack (what phase allocated it, and what it is)."""
    useful = extra = 0
    groups = {}
    stack = []
    with open(snapshot, errors="replace") as f:
        for line in f:
            if line.startswith("mem_heap_B="):
                useful = int(line.split("=")[1])
            elif line.startswith("mem_heap_extra_B="):
                extra = int(line.split("=")[1])
            m = _MASSIF_NODE.match(line.rstrip("\n"))
            if not m:
                continue
            depth, children, size, desc = len(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4)
            del stack[depth:]
            stack.append(desc)
            if children:
                continue
            frames = [fm.group(1) for fm in (_FAIRLEAD_FN.search(d) for d in stack)
                      if fm and fm.group(1) != "fairlead::main"]
            outer = frames[-1] if frames else "(no fairlead frame: runtime, std, libraries)"
            inner = frames[0] if frames else ""
            if "below massif's threshold" in desc:
                inner = (inner + " and smaller sites").strip()
            groups[(outer, inner)] = groups.get((outer, inner), 0) + size
    return useful, extra, sorted(groups.items(), key=lambda kv: -kv[1])


def memory_profile(opts, backend_port, workdir, routes):
    """Heap held by an idle fairlead with `routes` routes: massif detailed snapshot via vgdb,
    and the RSS of the same process run natively."""
    c = _fairlead_with_routes(opts, backend_port, os.path.join(workdir, "mem-native"), routes, [])
    try:
        time.sleep(1.0)
        rss = procs.rss_kib(c.pids())
    finally:
        c.stop()
    snap = os.path.join(OUT, f"massif.fairlead-{routes}.out")
    c = _fairlead_with_routes(opts, backend_port, os.path.join(workdir, "mem-massif"), routes,
                              ["valgrind", "--tool=massif", "--threshold=0.2",
                               f"--massif-out-file={os.path.join(OUT, 'massif.fairlead.all.out')}"])
    try:
        time.sleep(2.0)
        subprocess.run(["vgdb", f"--pid={c.proc.pid}", "detailed_snapshot", snap], capture_output=True,
                       timeout=300, check=True)
    finally:
        c.stop()
    useful, extra, groups = massif_owners(snap)
    return {"rss_kib": rss, "useful": useful, "extra": extra, "groups": groups}


def rebuild_profile(opts, backend_port, workdir, routes):
    """callgrind over one rebuild (a new route file) with `routes` routes loaded."""
    out_file = os.path.join(OUT, f"callgrind.rebuild-{routes}.out")
    c = _fairlead_with_routes(opts, backend_port, os.path.join(workdir, "rebuild"), routes,
                              ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
                               "--dump-instr=no"])
    try:
        port = c.ports["h1"]
        subprocess.run(["callgrind_control", "-z", str(c.proc.pid)], capture_output=True, timeout=120)
        contenders.get(port, "probe.example.com")  # wakes the process so the zeroing happens now
        with open(os.path.join(c.manifests, ".probe.tmp"), "w") as f:
            f.write(sites.route_yaml("probe", "probe.example.com", [None]))
        os.rename(os.path.join(c.manifests, ".probe.tmp"), os.path.join(c.manifests, "40-probe.yaml"))
        deadline = time.monotonic() + 600
        while contenders.get(port, "probe.example.com", timeout=60)[0] != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the new route never answered under callgrind")
            time.sleep(0.2)
        dumper = subprocess.Popen(["callgrind_control", "-d", str(c.proc.pid)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        contenders.get(port, "probe.example.com")
        dumper.wait(timeout=300)
    finally:
        c.stop()
    dumps = sorted(f for f in os.listdir(OUT) if f.startswith(os.path.basename(out_file) + "."))
    dump = os.path.join(OUT, dumps[-1]) if dumps else out_file
    total = _callgrind_total(dump)
    self_cost, inclusive = callgrind_costs(dump)
    return {"total": total, "inclusive": inclusive, "self": self_cost}


def perf_stat(name, opts, backend_port, workdir, workers):
    c = make(name, opts.port_base, backend_port, workdir, workers, opts.fairlead)
    c.start(sites.Site())
    out = os.path.join(OUT, f"perf-stat.{name}.txt")
    try:
        port, host = c.ports["h1"], sites.SINGLE_HOST
        h1_load(port, host, 5000)
        pids = ",".join(str(p) for p in c.pids())
        stat = subprocess.Popen(["perf", "stat", "-x", ",", "-o", out, "-e",
                                 "raw_syscalls:sys_enter,context-switches,task-clock", "-p", pids])
        time.sleep(0.3)
        h1_load(port, host, opts.requests * 5)
        stat.send_signal(signal.SIGINT)
        stat.wait(timeout=30)
    finally:
        c.stop()
    values = {}
    with open(out) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) > 2 and parts[0] and parts[0][0].isdigit():
                values[parts[2]] = float(parts[0])
    n = opts.requests * 5
    return {
        "syscalls": values.get("raw_syscalls:sys_enter", 0) / n,
        "switches": values.get("context-switches", 0) / n,
        "cpu_us": values.get("task-clock", 0) * 1000 / n,  # task-clock is in ms
    }


def perf_record(opts, backend_port, workdir, workers, top):
    c = make("fairlead", opts.port_base, backend_port, workdir, workers, opts.fairlead)
    c.start(sites.Site())
    data = os.path.join(OUT, "perf.fairlead.data")
    try:
        port, host = c.ports["h1"], sites.SINGLE_HOST
        h1_load(port, host, 5000)
        rec = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-o", data,
                                "-p", str(c.proc.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        h1_load(port, host, opts.requests * 5)
        rec.send_signal(signal.SIGINT)
        rec.wait(timeout=60)
    finally:
        c.stop()
    report = {}
    for key in ("dso", "sym"):
        text = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", key],
                              capture_output=True, text=True, timeout=300).stdout
        rows = []
        for line in text.splitlines():
            m = re.match(r"^\s*([\d.]+)%\s+(.*)$", line)
            if m:
                rows.append((float(m.group(1)), m.group(2).strip()[:150]))
            if len(rows) >= (10 if key == "dso" else top):
                break
        report[key] = rows
    return report


def main(argv):
    p = argparse.ArgumentParser(prog="bench/run.sh --profile")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--requests", type=int, default=20000, help="requests per callgrind profile")
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--port-base", type=int, default=18100)
    p.add_argument("--fairlead", required=True)
    p.add_argument("--backend", required=True)
    p.add_argument("--build", default="release")
    p.add_argument("--pid-file")
    p.add_argument("--command", default="bench/run.sh --profile")
    p.add_argument("--quick", action="store_true", help="few requests: checks the profiler runs")
    opts = p.parse_args(argv)
    if opts.quick:
        opts.requests = 500
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.startswith("callgrind."):
            os.remove(os.path.join(OUT, f))
    workdir = tempfile.mkdtemp(prefix="fairlead-profile-")
    procs.set_pid_file(opts.pid_file or os.path.join(workdir, "pids"))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workers = os.cpu_count() or 1
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          timeout=20).stdout.strip() or "unknown"
    md = ["# Profiles: scenario 1 (HTTP/1.1 keep-alive small GET, 16 connections)", "",
          f"- commit {head}; command: `{opts.command}`; binaries: {opts.build} build; {opts.requests} requests "
          "per callgrind run", ""]
    status = 0
    backend = contenders.Backend(opts.backend, opts.port_base, workdir)
    try:
        backend.start()
        rows = ["| proxy | user-space instructions / request (callgrind) | syscalls / request | "
                "context switches / request | CPU µs / request (task-clock) |", "|---|---:|---:|---:|---:|"]
        dumps = {}
        for name in ("fairlead", "nginx", "haproxy"):
            log(f"callgrind: {name}")
            cg = callgrind(name, opts, opts.port_base, workdir)
            dumps[name] = cg["dump"]
            log(f"perf stat: {name}")
            ps = perf_stat(name, opts, opts.port_base, workdir, workers)
            rows.append(f"| {name} | {cg['ir_per_request']:,.0f} | {ps['syscalls']:.2f} | {ps['switches']:.3f} | "
                        f"{ps['cpu_us']:.1f} |")
        md += ["## Cost per request", "", *rows, "",
               "perf stat counts every thread/process of the proxy (nginx: master and workers) over "
               f"{opts.requests * 5} requests; callgrind counts user space only.", ""]
        self_cost, inclusive = callgrind_costs(dumps["fairlead"])
        total = _callgrind_total(dumps["fairlead"])
        per = opts.requests + 1
        md += ["## fairlead: top functions by self instructions (callgrind)", "",
               "| share | instructions / request | function |", "|---:|---:|---|"]
        md += [f"| {s:.2f}% | {r:,.0f} | `{n}` |" for s, r, n in top_functions(self_cost, total, per, opts.top)]
        md += ["", "## fairlead: top functions by inclusive instructions (callgrind)", "",
               "Thread and runtime entry points (95% or more) left out.", "",
               "| share | instructions / request | function |", "|---:|---:|---|"]
        md += [f"| {s:.2f}% | {r:,.0f} | `{n}` |"
               for s, r, n in top_functions(inclusive, total, per, opts.top * 2, skip_above=95.0)]
        md.append("")
        if not opts.quick:
            md += ["## Routing table lookup (callgrind, `matching` bench workload)", "",
                   "Collection is on only inside `Table::lookup`; instruction counts do not depend on "
                   "caches, so a flat count with a growing time means memory stalls, not more work.", ""]
            for routes in (10, 100000):
                log(f"callgrind: lookup at {routes} routes")
                lp = lookup_profile(routes, 12)
                md += [f"### {routes} routes: {lp['per_lookup']:,.0f} instructions per lookup "
                       f"({lp['calls']:,} lookups)", "", "| share | instructions / lookup | function |",
                       "|---:|---:|---|"]
                md += [f"| {s:.2f}% | {r:,.0f} | `{n}` |" for s, r, n in lp["top"]]
                md.append("")
        if not opts.quick:
            log("massif: fairlead with 5,000 routes")
            mem = memory_profile(opts, opts.port_base, workdir, 5000)
            if mem["useful"] == 0:
                # massif sees malloc/free only; a binary with its own allocator (mimalloc) hides its heap.
                md += ["## fairlead: memory with 5,000 routes loaded", "",
                       f"RSS of the process run natively: {mem['rss_kib'] / 1024:.1f} MiB. massif saw no heap: "
                       "this binary allocates through its own allocator (not malloc), which massif cannot "
                       "follow; `MIMALLOC_SHOW_STATS=1` prints that allocator's totals at exit.", ""]
            else:
                md += ["## fairlead: memory with 5,000 routes loaded (massif, idle after start)", "",
                       f"RSS of the same process run natively: {mem['rss_kib'] / 1024:.1f} MiB. Live heap: "
                       f"{mem['useful'] / 2**20:.1f} MiB requested + {mem['extra'] / 2**20:.1f} MiB allocator "
                       "overhead. Grouped by the outermost fairlead function on the allocating stack (the "
                       "phase) and the innermost (what was built):", "",
                       "| MiB | phase | allocated in |", "|---:|---|---|"]
                md += [f"| {b / 2**20:.2f} | `{o}` | `{i}` |" for (o, i), b in mem["groups"][:25]]
                md.append("")
            log("callgrind: one rebuild with 3,000 routes")
            rb = rebuild_profile(opts, opts.port_base, workdir, 3000)
            md += ["## fairlead: one rebuild with 3,000 routes (callgrind)", "",
                   f"{rb['total']:,} instructions from the file change to the new route answering. "
                   "Inclusive shares of the functions named fairlead and of the heaviest others:", "",
                   "| share | instructions | function |", "|---:|---:|---|"]
            md += [f"| {sh:.1f}% | {ir:,.0f} | `{n}` |"
                   for sh, ir, n in top_functions(rb["inclusive"], rb["total"], 1, 45, skip_above=95.0)]
            md += ["", "Top self costs:", "", "| share | instructions | function |", "|---:|---:|---|"]
            md += [f"| {sh:.1f}% | {ir:,.0f} | `{n}` |" for sh, ir, n in top_functions(rb["self"], rb["total"], 1, 15)]
            md.append("")
        log("perf record: fairlead")
        rec = perf_record(opts, opts.port_base, workdir, workers, opts.top)
        md += ["## fairlead: CPU samples by object, kernel included (perf record -e cpu-clock)", "",
               "| share | object |", "|---:|---|"]
        md += [f"| {s:.2f}% | `{n}` |" for s, n in rec["dso"]]
        md += ["", "## fairlead: CPU samples by symbol, kernel included", "", "| share | symbol |", "|---:|---|"]
        md += [f"| {s:.2f}% | `{n}` |" for s, n in rec["sym"]]
        md.append("")
    except Exception as e:  # the summary says what failed; the exit status too
        md += ["", f"Profiling failed: {e!r}"]
        status = 1
    finally:
        procs.stop_all()
        shutil.rmtree(workdir, ignore_errors=True)
    text = "\n".join(md)
    print(text)
    with open(os.path.join(OUT, "summary.md"), "w") as f:
        f.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
