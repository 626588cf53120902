"""What every contender serves in a scenario, rendered for each: fairlead manifests, an nginx
config and an HAProxy config that do the same routing to the same backend.

A site is either one host (`bench.example.com`, every path to the backend) or `hosts` hosts
`h{i}.example.com`, each with three paths: PathPrefix `/api`, Exact `/healthz` and PathPrefix `/`.
Requests for unknown hosts get 404 from every contender.
"""

import base64
import os
import resource

SINGLE_HOST = "bench.example.com"
MANY_PATHS = ("/api/users", "/healthz", "/static/app.js")


def many_host(i):
    return f"h{i}.example.com"


class Site:
    def __init__(self, hosts=0, tls=None, rules=None):
        self.hosts = hosts  # 0: the single host
        self.tls = tls  # (cert, key, cert+key) paths, or None
        # fairlead rules per host; nginx and HAProxy always get the three paths.
        self.rules = rules or MANY_RULES

    def request_host(self):
        return SINGLE_HOST if self.hosts == 0 else many_host(0)


# ---------------------------------------------------------------------------------------------
# fairlead: Gateway API manifests


def _gateway_yaml(ports):
    listeners = [
        f"""    - name: http
      protocol: HTTP
      port: {ports['h1']}
      allowedRoutes:
        namespaces:
          from: Same"""
    ]
    if ports.get("tls"):
        listeners.append(
            f"""    - name: https
      protocol: HTTPS
      port: {ports['tls']}
      tls:
        mode: Terminate
        certificateRefs:
          - name: bench-tls
      allowedRoutes:
        namespaces:
          from: Same"""
        )
    return f"""apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: bench
spec:
  controllerName: fairlead.dev/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: web
  namespace: default
spec:
  gatewayClassName: bench
  listeners:
{chr(10).join(listeners)}
"""


def backend_yaml(backend_port):
    return f"""apiVersion: v1
kind: Service
metadata:
  name: backend
  namespace: default
spec:
  ports:
    - name: http
      port: 80
      targetPort: {backend_port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: backend-1
  namespace: default
  labels:
    kubernetes.io/service-name: backend
addressType: IPv4
ports:
  - name: http
    port: {backend_port}
    protocol: TCP
endpoints:
  - addresses: ["127.0.0.1"]
    conditions:
      ready: true
"""


def _secret_yaml(cert_path, key_path):
    def b64(path):
        with open(path, "rb") as f:
            return base64.b64encode(f.read()).decode()

    return f"""apiVersion: v1
kind: Secret
metadata:
  name: bench-tls
  namespace: default
type: kubernetes.io/tls
data:
  tls.crt: {b64(cert_path)}
  tls.key: {b64(key_path)}
"""


def route_yaml(name, host, rules):
    """One HTTPRoute for `host`; `rules` is a list of (match type, path) or None for no match."""
    out = [
        f"""apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: {name}
  namespace: default
spec:
  parentRefs:
    - name: web
  hostnames: ["{host}"]
  rules:"""
    ]
    for rule in rules:
        if rule is None:
            out.append("    - backendRefs:\n        - name: backend\n          port: 80")
        else:
            kind, path = rule
            out.append(
                f"    - matches:\n        - path: {{ type: {kind}, value: {path} }}\n"
                "      backendRefs:\n        - name: backend\n          port: 80"
            )
    return "\n".join(out) + "\n"


MANY_RULES = [("PathPrefix", "/api"), ("Exact", "/healthz"), None]


def write_fairlead_manifests(directory, site, ports, backend_port, routes_per_file=1000):
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "00-gateway.yaml"), "w") as f:
        f.write(_gateway_yaml(ports))
    with open(os.path.join(directory, "10-backend.yaml"), "w") as f:
        f.write(backend_yaml(backend_port))
    if site.tls:
        with open(os.path.join(directory, "20-secret.yaml"), "w") as f:
            f.write(_secret_yaml(site.tls[0], site.tls[1]))
    if site.hosts == 0:
        with open(os.path.join(directory, "30-route.yaml"), "w") as f:
            f.write(route_yaml("bench", SINGLE_HOST, [None]))
        return
    write_many_routes(directory, site.hosts, site.rules, routes_per_file)


def write_many_routes(directory, count, rules, per_file=1000, prefix="30-routes"):
    """`count` HTTPRoutes (hosts `h{i}.example.com`), `per_file` to a multi-document file."""
    for start in range(0, count, per_file):
        docs = [route_yaml(f"r{i}", many_host(i), rules) for i in range(start, min(count, start + per_file))]
        with open(os.path.join(directory, f"{prefix}-{start // per_file:04d}.yaml"), "w") as f:
            f.write("---\n".join(docs))


# ---------------------------------------------------------------------------------------------
# nginx


def nginx_conf(tmp, site, ports, backend_port, workers):
    proxy = """        proxy_pass http://backend;"""
    if site.hosts == 0:
        servers = f"""    server {{
        {_nginx_listens(site, ports)}
        server_name {SINGLE_HOST};
        location / {{
{proxy}
        }}
    }}
"""
    else:
        blocks = []
        for i in range(site.hosts):
            blocks.append(
                f"""    server {{
        {_nginx_listens(site, ports)}
        server_name {many_host(i)};
        location /api {{
{proxy}
        }}
        location = /healthz {{
{proxy}
        }}
        location / {{
{proxy}
        }}
    }}
"""
            )
        servers = "".join(blocks)
    tls = ""
    if site.tls:
        tls = f"""    ssl_certificate {site.tls[0]};
    ssl_certificate_key {site.tls[1]};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
"""
    return f"""# Rendered by bench/harness/sites.py: equivalent to the fairlead manifests of the scenario.
user root;
{_nginx_processes(workers)}
worker_rlimit_nofile 65536;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{
    worker_connections 16384;
}}
http {{
    access_log off;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
    fastcgi_temp_path {tmp}/fastcgi_temp;
    uwsgi_temp_path {tmp}/uwsgi_temp;
    scgi_temp_path {tmp}/scgi_temp;
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    # Responses stream through memory buffers only, never through temporary files.
    proxy_max_temp_file_size 0;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header X-Forwarded-Host $host;
{tls}    # Idle connections cached per worker: enough for every client connection of the largest
    # scenario, so nginx, like HAProxy, never closes and reopens upstream connections.
    upstream backend {{
        server 127.0.0.1:{backend_port};
        keepalive 512;
        keepalive_requests 1000000;
    }}
    server {{
        {_nginx_listens(site, ports, default=True)}
        return 404;
    }}
{servers}}}
"""


def _nginx_processes(workers):
    # 0 workers: one process doing everything (for profiling under valgrind).
    if workers == 0:
        return "master_process off;\nworker_processes 1;"
    return f"worker_processes {workers};"


def _nginx_listens(site, ports, default=False):
    d = " default_server" if default else ""
    out = [f"listen 127.0.0.1:{ports['h1']}{d};", f"listen 127.0.0.1:{ports['h2']} http2{d};"]
    if site.tls:
        out.append(f"listen 127.0.0.1:{ports['tls']} ssl{d};")
    return "\n        ".join(out)


# ---------------------------------------------------------------------------------------------
# HAProxy


def haproxy_cfg(tmp, site, ports, backend_port, threads):
    # HAProxy sizes its file-descriptor limit from maxconn and refuses to start above the hard limit.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    maxconn = 8192 if hard == resource.RLIM_INFINITY else max(512, min(8192, (hard - 200) // 2))
    binds = [f"bind 127.0.0.1:{ports['h1']}", f"bind 127.0.0.1:{ports['h2']} proto h2"]
    if site.tls:
        binds.append(f"bind 127.0.0.1:{ports['tls']} ssl crt {site.tls[2]}")
    if site.hosts == 0:
        routing = f"""    acl bench_host hdr(host) -i {SINGLE_HOST}
    use_backend be if bench_host
    default_backend be_404"""
    else:
        # One map entry per (host, path prefix); `base` is host + path, and map_beg picks the
        # longest prefix from HAProxy's prefix tree (no linear scan).
        map_path = os.path.join(tmp, "routes.map")
        with open(map_path, "w") as f:
            for i in range(site.hosts):
                h = many_host(i)
                f.write(f"{h}/api be\n{h}/healthz be\n{h}/ be\n")
        routing = f"""    use_backend %[base,map_beg({map_path},be_404)]"""
    return f"""# Rendered by bench/harness/sites.py: equivalent to the fairlead manifests of the scenario.
global
    nbthread {threads}
    maxconn {maxconn}
    pidfile {tmp}/haproxy.pid
    tune.ssl.default-dh-param 2048

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 75s
    option forwardfor
    # Reuse idle upstream connections for any request, as fairlead and nginx do.
    http-reuse always

frontend fe
    {chr(10).join('    ' + b if n else b for n, b in enumerate(binds))}
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
    http-request set-header X-Forwarded-Proto http if !{{ ssl_fc }}
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
{routing}

backend be
    server s1 127.0.0.1:{backend_port}

backend be_404
    http-request return status 404
"""
