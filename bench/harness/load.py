"""The load generators: wrk for HTTP/1.1 (and TLS), h2load for HTTP/2.

wrk is the generator for everything HTTP/1.1: one thread drives hundreds of keep-alive
connections cheaply, a Lua `done` hook gives exact latency percentiles from its histogram
(including p99.9), and a Lua `request` hook spreads requests over many hosts. It cannot speak
HTTP/2, so h2load (nghttp2) does that scenario, with per-request latencies from its log file.
Both report non-2xx/3xx answers and socket errors; any of those marks the run as failed.
"""

import os
import re
import subprocess

REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d " ..
    "p50=%d p90=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max))
end
"""

# Requests spread over BENCH_HOSTS hosts and three paths, prepared once per thread.
SPREAD_LUA = r"""
local reqs = {}
local n = 0
init = function(args)
  local hosts = tonumber(os.getenv("BENCH_HOSTS"))
  local paths = {"/api/users", "/healthz", "/static/app.js"}
  math.randomseed(20251122)
  for i = 1, 20000 do
    local h = math.random(0, hosts - 1)
    reqs[i] = wrk.format("GET", paths[math.random(1, 3)], {Host = "h" .. h .. ".example.com"})
  end
end
request = function()
  n = n % #reqs + 1
  return reqs[n]
end
"""

_BENCH_LINE = re.compile(r"^BENCH (.*)$", re.M)


class LoadError(Exception):
    pass


def write_scripts(workdir):
    report = os.path.join(workdir, "report.lua")
    spread = os.path.join(workdir, "spread.lua")
    with open(report, "w") as f:
        f.write(REPORT_LUA)
    with open(spread, "w") as f:
        f.write(SPREAD_LUA + REPORT_LUA)
    return {"report": report, "spread": spread}


def wrk(url, conns, duration, host, path="/", script=None, headers=(), env=None, threads=1):
    """Runs wrk for `duration` seconds; returns a result dict and the exact command."""
    argv = ["wrk", "-t", str(min(threads, conns)), "-c", str(conns), "-d", f"{duration}s",
            "--timeout", "5s", "-s", script, "-H", f"Host: {host}"]
    for h in headers:
        argv += ["-H", h]
    argv.append(url + path)
    out = _run(argv, duration, env)
    m = _BENCH_LINE.search(out)
    if not m:
        raise LoadError(f"wrk printed no summary:\n{out[-2000:]}")
    f = dict(kv.split("=") for kv in m.group(1).split())
    f = {k: int(v) for k, v in f.items()}
    seconds = f["duration_us"] / 1e6
    errors = f["connect"] + f["read"] + f["write"] + f["status"] + f["timeout"]
    return {
        "requests": f["requests"],
        "rps": f["requests"] / seconds if seconds else 0.0,
        "bytes_per_s": f["bytes"] / seconds if seconds else 0.0,
        "p50": f["p50"], "p99": f["p99"], "p999": f["p999"],
        "errors": errors,
        "error_detail": {k: f[k] for k in ("connect", "read", "write", "status", "timeout") if f[k]},
    }, argv


def h2load(url, conns, streams, duration, host, log_path, path="/", warmup=0):
    argv = ["h2load", "-t", "1", "-c", str(conns), "-m", str(streams), "-D", str(duration),
            "--log-file", log_path, "-H", f":authority: {host}"]
    if warmup:
        argv += ["--warm-up-time", str(warmup)]
    argv.append(url + path)
    if os.path.exists(log_path):
        os.remove(log_path)
    out = _run(argv, duration + warmup, None)
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, "
                     r"(\d+) errored, (\d+) timeout", out)
    codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
    finished = re.search(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s, ([\d.]+)([KMG]?B)/s", out)
    if not (done and codes and finished):
        raise LoadError(f"h2load printed no summary:\n{out[-2000:]}")
    latencies = []
    with open(log_path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3:
                latencies.append(int(parts[2]))
    latencies.sort()
    if not latencies:
        raise LoadError("h2load logged no request")
    unit = {"B": 1, "KB": 1024, "MB": 1024 ** 2, "GB": 1024 ** 3}[finished.group(5)]
    # In a timed run h2load counts the streams still in flight when time is up as failed; only
    # failures beyond that many are real.
    in_flight = conns * streams
    failed = max(0, int(done.group(5)) - in_flight) + int(done.group(7))
    errors = failed + int(codes.group(2)) + int(codes.group(3)) + int(codes.group(4))
    return {
        "requests": int(done.group(4)),
        "rps": float(finished.group(3)),
        "bytes_per_s": float(finished.group(4)) * unit,
        "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
        "p999": percentile(latencies, 99.9),
        "errors": errors,
        "error_detail": {} if not errors else {"failed": failed, "non-2xx": errors - failed},
    }, argv


def h2_check(url, host, path):
    """One HTTP/2 request (prior knowledge) that must answer 2xx."""
    argv = ["h2load", "-n", "1", "-c", "1", "-H", f":authority: {host}", url + path]
    out = _run(argv, 10, None)
    if not re.search(r"status codes: 1 2xx", out):
        raise RuntimeError(f"HTTP/2 GET {host}{path} did not answer 2xx:\n{out[-1000:]}")


def percentile(sorted_values, p):
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def _run(argv, duration, env):
    full_env = dict(os.environ, **(env or {}))
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=duration + 30, env=full_env)
    except subprocess.TimeoutExpired as e:
        raise LoadError(f"{argv[0]} did not finish within {duration + 30} s") from e
    if done.returncode != 0:
        raise LoadError(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}{done.stdout[-2000:]}")
    return done.stdout
