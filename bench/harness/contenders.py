"""The contenders of a scenario: the backend on its own (direct, the ceiling), fairlead, nginx
and HAProxy, each started with the scenario's site and stopped by PID.

Every proxy gets the same number of workers as fairlead has runtime threads (the number of
cores), keeps upstream connections alive, and logs no requests.
"""

import http.client
import json
import os
import shlex
import socket
import ssl
import time

import procs
import sites


class StartError(Exception):
    pass


def wait_port(port, timeout, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.alive():
            raise StartError(f"{proc.name} exited early:\n{proc.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise StartError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def get(port, host, path="/", tls=False, timeout=5.0):
    """One HTTP/1.1 GET; returns (status, body)."""
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Backend:
    """The benchmark backend; also the `direct` contender."""

    def __init__(self, binary, port, workdir):
        self.binary, self.port, self.workdir = binary, port, workdir
        self.proc = None

    def start(self):
        self.proc = procs.start(
            "backend",
            [self.binary, "--listen", f"127.0.0.1:{self.port}"],
            os.path.join(self.workdir, "backend.log"),
        )
        wait_port(self.port, 10, self.proc)

    def stop(self):
        procs.stop(self.proc)
        self.proc = None


class Contender:
    name = "?"
    supports_h2 = True
    supports_tls = True

    def __init__(self):
        self.proc = None
        self.ports = {}
        self.unsupported = {}  # feature -> reason
        # Command prefix, e.g. valgrind for profiling.
        self.wrapper = []
        self.start_timeout = 60

    def pids(self):
        return self.proc.tree() if self.proc else []

    def endpoint(self, protocol):
        """Port to load for `h1`, `h2` or `tls`; None when this contender cannot serve it."""
        if protocol in self.unsupported:
            return None
        return self.ports.get(protocol)

    def start(self, site):
        raise NotImplementedError

    def stop(self):
        procs.stop(self.proc)
        self.proc = None

    def command(self):
        return ""


class Direct(Contender):
    name = "direct"

    def __init__(self, backend):
        super().__init__()
        self.backend = backend
        self.ports = {"h1": backend.port}
        self.unsupported = {"h2": "the backend speaks HTTP/1.1 only", "tls": "the backend has no TLS"}

    def pids(self):
        # The backend's CPU is reported separately; direct runs have no proxy.
        return []

    def start(self, site):
        pass

    def stop(self):
        pass

    def command(self):
        return f"{self.backend.binary} --listen 127.0.0.1:{self.backend.port}"


class Fairlead(Contender):
    name = "fairlead"

    def __init__(self, binary, base_port, backend_port, workdir):
        super().__init__()
        self.binary, self.backend_port, self.workdir = binary, backend_port, workdir
        self.ports = {"h1": base_port, "h2": base_port, "tls": base_port + 4}
        self.admin = base_port + 1
        self.ingress_port = base_port + 2
        self.ingress_tls_port = base_port + 3
        self.manifests = os.path.join(workdir, "fairlead-manifests")
        self.argv = []

    def start(self, site, ready_timeout=120):
        if os.path.isdir(self.manifests):
            for name in os.listdir(self.manifests):
                os.remove(os.path.join(self.manifests, name))
        ports = dict(self.ports)
        if not site.tls:
            ports.pop("tls")
        sites.write_fairlead_manifests(self.manifests, site, ports, self.backend_port)
        self.argv = self.wrapper + [
            self.binary, "serve", "--manifests", self.manifests, "--bind-address", "127.0.0.1",
            "--admin-addr", f"127.0.0.1:{self.admin}", "--http-port", str(self.ingress_port),
            "--https-port", str(self.ingress_tls_port), "--no-access-log", "--log-format", "json",
        ]
        env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "info"))
        self.proc = procs.start("fairlead", self.argv, os.path.join(self.workdir, "fairlead.log"), env=env)
        wait_ready(self.admin, max(ready_timeout, self.start_timeout), self.proc)
        wait_port(self.ports["h1"], 10, self.proc)
        self.unsupported = {}
        if site.tls and not _tls_answers(self.ports["tls"]):
            self.unsupported["tls"] = "fairlead does not terminate TLS yet"

    def command(self):
        return shlex.join(self.argv)


def wait_ready(admin_port, timeout, proc):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise StartError(f"fairlead exited early:\n{proc.log_tail()}")
        try:
            status, _ = get(admin_port, "127.0.0.1", "/readyz", timeout=1.0)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise StartError(f"fairlead not ready after {timeout} s:\n{proc.log_tail()}")


def status_version(admin_port):
    status, body = get(admin_port, "127.0.0.1", "/status", timeout=2.0)
    if status != 200:
        return None
    return json.loads(body).get("version")


def _tls_answers(port):
    try:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as raw:
            with ctx.wrap_socket(raw, server_hostname=sites.SINGLE_HOST):
                return True
    except OSError:
        return False


class Nginx(Contender):
    name = "nginx"

    def __init__(self, base_port, backend_port, workers, workdir):
        super().__init__()
        self.backend_port, self.workers = backend_port, workers
        self.ports = {"h1": base_port, "h2": base_port + 1, "tls": base_port + 2}
        self.dir = os.path.join(workdir, "nginx")
        self.argv = []

    def start(self, site):
        os.makedirs(self.dir, exist_ok=True)
        conf = os.path.join(self.dir, "nginx.conf")
        with open(conf, "w") as f:
            f.write(sites.nginx_conf(self.dir, site, self.ports, self.backend_port, self.workers))
        self.argv = self.wrapper + ["nginx", "-p", self.dir, "-c", conf, "-e", os.path.join(self.dir, "nginx-error.log"),
                     "-g", "daemon off;"]
        self.proc = procs.start("nginx", self.argv, os.path.join(self.dir, "nginx.out"))
        wait_port(self.ports["h1"], self.start_timeout, self.proc)
        # Workers accept once they are forked; the master binds before that.
        deadline = time.monotonic() + 30
        while len(procs.descendants(self.proc.pid)) < self.workers and time.monotonic() < deadline:
            time.sleep(0.05)

    def command(self):
        return shlex.join(self.argv)


class Haproxy(Contender):
    name = "haproxy"

    def __init__(self, base_port, backend_port, threads, workdir):
        super().__init__()
        self.backend_port, self.threads = backend_port, threads
        self.ports = {"h1": base_port, "h2": base_port + 1, "tls": base_port + 2}
        self.dir = os.path.join(workdir, "haproxy")
        self.argv = []

    def start(self, site):
        os.makedirs(self.dir, exist_ok=True)
        cfg = os.path.join(self.dir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write(sites.haproxy_cfg(self.dir, site, self.ports, self.backend_port, self.threads))
        self.argv = self.wrapper + ["haproxy", "-f", cfg, "-db"]
        self.proc = procs.start("haproxy", self.argv, os.path.join(self.dir, "haproxy.out"))
        wait_port(self.ports["h1"], self.start_timeout, self.proc)

    def command(self):
        return shlex.join(self.argv)
