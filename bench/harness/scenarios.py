"""The scenarios and how one is measured: contenders interleaved run by run (A B C, B C A, ...),
each run preceded by an unmeasured warm-up, with the proxy's CPU time and peak RSS read from /proc
around the measured part."""

import os
import shlex

import contenders
import load
import procs
import report
import sites

BODY = b"hello from the bench backend\n"

# name -> definition. `levels` are client connection counts.
SCENARIOS = {
    "keepalive": dict(
        title="1. HTTP/1.1 keep-alive, small GET",
        what="wrk, one thread, keep-alive connections, `GET /` for `bench.example.com`; a 29-byte 200.",
        protocol="h1", levels=[1, 16, 256], quick_levels=[16],
    ),
    "new-conn": dict(
        title="2. A new connection per request",
        what="wrk with `Connection: close`: every request opens a TCP connection to the proxy "
             "(upstream connections stay pooled behind the proxies).",
        protocol="h1", levels=[16], headers=["Connection: close"],
    ),
    "https": dict(
        title="3. HTTPS termination, keep-alive",
        what="wrk over TLS (ECDSA P-256 certificate, TLS 1.3), keep-alive; plain HTTP/1.1 to the backend.",
        protocol="tls", levels=[16], tls=True,
    ),
    "h2": dict(
        title="4. HTTP/2 from the client (h2c, prior knowledge)",
        what="h2load, 16 connections × 8 concurrent streams; HTTP/1.1 to the backend.",
        protocol="h2", levels=[16], streams=8,
    ),
    "routing": dict(
        title="5. Routing-heavy: 10,000 hosts × 3 paths",
        what="10,000 hosts, each with PathPrefix `/api`, Exact `/healthz` and PathPrefix `/` (30,000 "
             "fairlead routes, 10,000 nginx server blocks, a 30,000-entry HAProxy prefix map); wrk spreads "
             "requests uniformly over hosts and paths.",
        protocol="h1", levels=[16], hosts=10000, quick_hosts=1000, script="spread",
    ),
    "body-1m": dict(
        title="6. 1 MiB response body (streaming)",
        what="wrk, keep-alive, `GET /1m`: the backend answers 1 MiB.",
        protocol="h1", levels=[16], path="/1m", throughput=True,
    ),
}


def make_site(defn, quick, tls_files):
    hosts = defn.get("quick_hosts" if quick else "hosts", defn.get("hosts", 0))
    return sites.Site(hosts=hosts, tls=tls_files if defn.get("tls") else None)


def check(contender, defn, site, port):
    """One request through the contender must reach the backend and come back whole."""
    path = defn.get("path", "/")
    host = site.request_host()
    if site.hosts:
        path = sites.MANY_PATHS[0]
    if defn["protocol"] == "h2":
        load.h2_check(f"http://127.0.0.1:{port}", host, path)
        return
    status, body = contenders.get(port, host, path, tls=defn["protocol"] == "tls")
    if status != 200:
        raise RuntimeError(f"{contender.name}: GET {host}{path} answered {status}")
    if path == "/1m":
        if len(body) != 1 << 20:
            raise RuntimeError(f"{contender.name}: /1m body is {len(body)} bytes")
    elif body != BODY:
        raise RuntimeError(f"{contender.name}: unexpected body {body[:80]!r}")


def measure_once(defn, site, contender, port, level, duration, warmup, backend, scripts, workdir):
    scheme = "https" if defn["protocol"] == "tls" else "http"
    url = f"{scheme}://127.0.0.1:{port}"
    host = site.request_host()
    path = defn.get("path", "/")
    env = {"BENCH_HOSTS": str(site.hosts)} if site.hosts else None
    script = scripts[defn.get("script", "report")]

    def run(seconds):
        if defn["protocol"] == "h2":
            log_path = os.path.join(workdir, "h2load.log")
            return load.h2load(url, level, defn["streams"], seconds, host, log_path, path)
        return load.wrk(url, level, seconds, host, path, script, defn.get("headers", ()), env)

    if warmup:
        run(warmup)
    pids = contender.pids()
    bpids = backend.proc.tree()
    procs.reset_peak_rss(pids)
    cpu0, bcpu0 = procs.cpu_seconds(pids), procs.cpu_seconds(bpids)
    opens0 = procs.tcp_active_opens()
    busy0, gen0 = procs.machine_busy_seconds(), procs.children_cpu_seconds()
    result, argv = run(duration)
    busy1, gen1 = procs.machine_busy_seconds(), procs.children_cpu_seconds()
    opens1 = procs.tcp_active_opens()
    if opens0 is not None and opens1 is not None and contender.name != "direct":
        # Every connection opened on loopback, less the load generator's own: what the proxy
        # opened to the backend. A pooling proxy opens about as many as it has concurrent requests.
        client = result["requests"] if "Connection: close" in defn.get("headers", ()) else level
        result["upstream_opens"] = max(0, opens1 - opens0 - client)
    result["cpu"] = procs.cpu_seconds(pids) - cpu0
    result["backend_cpu"] = procs.cpu_seconds(bpids) - bcpu0
    result["rss_kib"] = procs.peak_rss_kib(pids) if pids else None
    if busy0 is not None and busy1 is not None:
        # CPU used by anything but the proxy, the backend and the load generator: another
        # process competing for the cores, which the numbers of this run then include.
        ours = result["cpu"] + result["backend_cpu"] + (gen1 - gen0)
        result["foreign_cpu"] = max(0.0, (busy1 - busy0) - ours)
    result["cpu_us_per_req"] = result["cpu"] / result["requests"] * 1e6 if result["requests"] else None
    if result["errors"]:
        result["error"] = f"{result['errors']} failed requests {result['error_detail']}"
    return result, argv


def run_scenario(name, defn, all_contenders, backend, opts, scripts, tls_files, log):
    """Returns (markdown, failures, commands)."""
    site = make_site(defn, opts.quick, tls_files)
    levels = defn.get("quick_levels", defn["levels"][:1]) if opts.quick else defn["levels"]
    summaries, failures, commands = {}, [], {}
    all_results = []
    started = []
    for c in all_contenders:
        try:
            c.start(site)
            started.append(c)
        except (contenders.StartError, OSError) as e:
            failures.append(f"{name}: {c.name} did not start: {e}")
            for level in levels:
                summaries[(c.name, level)] = {"error": f"did not start: {str(e).splitlines()[0]}"}
    try:
        live = []
        for c in started:
            port = c.endpoint(defn["protocol"])
            if port is None:
                reason = c.unsupported.get(defn["protocol"], "not supported")
                for level in levels:
                    summaries[(c.name, level)] = {"na": reason}
                continue
            try:
                check(c, defn, site, port)
                live.append((c, port))
            except (RuntimeError, OSError, load.LoadError) as e:
                failures.append(f"{name}: {c.name} failed its check: {e}")
                for level in levels:
                    summaries[(c.name, level)] = {"error": f"check failed: {e}"}
        for level in levels:
            samples = {c.name: [] for c, _ in live}
            for rnd in range(opts.runs):
                order = live[rnd % len(live):] + live[:rnd % len(live)] if live else []
                for c, port in order:
                    log(f"{name}: {c.name} at {level} connections, run {rnd + 1}/{opts.runs}")
                    try:
                        result, argv = measure_once(defn, site, c, port, level, opts.duration, opts.warmup,
                                                    backend, scripts, opts.workdir)
                        commands[f"{c.name}, {level} conns"] = shlex.join(argv)
                    except load.LoadError as e:
                        result = {"error": str(e).splitlines()[0]}
                    if "error" in result:
                        failures.append(f"{name}: {c.name} at {level}: {result['error']}")
                    samples[c.name].append(result)
                    all_results.append(result)
            for cname, s in samples.items():
                summaries[(cname, level)] = report.summarize(s)
    finally:
        for c in started:
            c.stop()
    md = [f"### {defn['title']}", "", defn["what"], "",
          report.scenario_table(levels, summaries, defn.get("throughput", False)), ""]
    foreign = [r.get("foreign_cpu", 0.0) for r in all_results]
    if foreign:
        md += [f"Other processes on the machine during the measured runs: {max(foreign):.1f} CPU-s at most in "
               f"one run, {sum(foreign) / len(foreign):.1f} on average (a run has {opts.duration} s × "
               f"{os.cpu_count()} cores).", ""]
    if any(c.name == "fairlead" for c in all_contenders):
        md += ["Ratios (medians):", "", report.ratio_table(levels, summaries), ""]
    return "\n".join(md), failures, commands, summaries
