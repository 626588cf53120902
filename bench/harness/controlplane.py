"""Control-plane figures of fairlead: how long a manifest change takes to answer requests
(propagation) with thousands of routes present, and the memory a loaded table costs.

Propagation is measured from just before a new route file is renamed into the watched
directory to the first 200 for the new host, polling every millisecond over one keep-alive
connection. The debounce of the file watcher (20 ms of quiet) is part of it by design.
fairlead's own log line for each rebuild gives `build_ms` (load + translate + compile + publish),
which splits the figure into waiting and working.
"""

import json
import os
import socket
import statistics
import time

import contenders
import procs
import sites

DESCRIPTION = (
    "Each route is an HTTPRoute with one hostname and one rule, all to one Service. Propagation: a new "
    "HTTPRoute file is renamed into the watched directory and a keep-alive client polls its host every "
    "millisecond until it answers 200; it includes the watcher's 20 ms debounce. `build_ms` is fairlead's "
    "own figure for the rebuild (read, translate, compile, publish). RSS is read idle, 1 s after ready."
)


def _poll_status(sock, host):
    req = f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    sock.sendall(req)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    return status


def _build_ms_after(log_path, offset):
    """build_ms of the first 'routing table published' log line past `offset`."""
    try:
        with open(log_path, errors="replace") as f:
            f.seek(offset)
            for line in f:
                if "routing table published" in line:
                    try:
                        return float(json.loads(line).get("build_ms"))
                    except (ValueError, TypeError):
                        return None
    except OSError:
        pass
    return None


class Figures:
    def __init__(self):
        self.rows = []  # dicts
        self.notes = []


def run(fairlead_bin, backend_port, base_port, workdir, quick, log):
    figures = Figures()
    prop_sizes = [300, 1000] if quick else [3000, 10000]
    probes = 2 if quick else 7
    rss_sizes = [1, 500] if quick else [1, 5000]
    for n in sorted(set(prop_sizes + rss_sizes)):
        d = os.path.join(workdir, f"cp-{n}")
        fl = contenders.Fairlead(fairlead_bin, base_port, backend_port, d)
        os.makedirs(d, exist_ok=True)
        log(f"control plane: fairlead with {n} routes")
        try:
            started = time.monotonic()
            fl.start(_RoutesSite(n))
            ready_s = time.monotonic() - started
            time.sleep(1.0)  # let allocator and runtime settle before reading memory
            rss = procs.rss_kib(fl.pids())
            row = {"routes": n, "ready_s": ready_s, "rss_kib": rss, "propagation": [], "build_ms": []}
            if n in prop_sizes:
                for k in range(probes):
                    ms, build = _propagate(fl, d, k)
                    row["propagation"].append(ms)
                    if build is not None:
                        row["build_ms"].append(build)
                    time.sleep(0.3)
            figures.rows.append(row)
        except (contenders.StartError, OSError, TimeoutError) as e:
            figures.notes.append(f"{n} routes: {e}")
        finally:
            fl.stop()
    return figures


class _RoutesSite(sites.Site):
    """`n` HTTPRoutes, one host and one PathPrefix `/` rule each."""

    def __init__(self, n):
        super().__init__(hosts=n, rules=[None])


def _propagate(fl, d, k):
    host = f"probe{k}.example.com"
    text = sites.route_yaml(f"probe{k}", host, [None])
    tmp = os.path.join(fl.manifests, f".probe{k}.tmp")
    final = os.path.join(fl.manifests, f"40-probe{k}.yaml")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    log_offset = os.path.getsize(fl.proc.log_path)
    sock = socket.create_connection(("127.0.0.1", fl.ports["h1"]), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if _poll_status(sock, host) == 200:
            raise RuntimeError(f"{host} answered before its route existed")
        start = time.perf_counter()
        os.rename(tmp, final)
        deadline = start + 30
        while True:
            status = _poll_status(sock, host)
            now = time.perf_counter()
            if status == 200:
                elapsed_ms = (now - start) * 1000
                break
            if now > deadline:
                raise TimeoutError(f"{host} never answered 200 within 30 s")
            time.sleep(0.001)
    finally:
        sock.close()
    # The log line is written right after the swap; give it a moment to land.
    build = None
    for _ in range(50):
        build = _build_ms_after(fl.proc.log_path, log_offset)
        if build is not None:
            break
        time.sleep(0.02)
    return elapsed_ms, build


def table(figures):
    out = ["| routes | time to ready s | RSS MiB (idle, loaded) | propagation ms median | min | max | "
           "fairlead build_ms median |", "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in figures.rows:
        p = r["propagation"]
        b = r["build_ms"]
        out.append(
            f"| {r['routes']} | {r['ready_s']:.2f} | {r['rss_kib'] / 1024:.1f} | "
            + (f"{statistics.median(p):.1f} | {min(p):.1f} | {max(p):.1f} | " if p else "– | – | – | ")
            + (f"{statistics.median(b):.1f} |" if b else "– |")
        )
    for note in figures.notes:
        out.append(f"\nProblem: {note}")
    return "\n".join(out)
