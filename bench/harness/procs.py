"""Processes the harness starts, and what /proc says about them.

Every process is started through `start`, recorded in a pid file, and stopped by PID (its own
children first, e.g. nginx workers) by `stop` or `stop_all`. `bench/run.sh` kills whatever the
pid file still lists if the harness itself dies, so nothing outlives a run.
"""

import os
import signal
import subprocess
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")

_started = []  # Proc, in start order
_pid_file = None


def set_pid_file(path):
    global _pid_file
    _pid_file = path


def _record_pids():
    if _pid_file is None:
        return
    live = [p.pid for p in _started if p.popen.poll() is None]
    tmp = _pid_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("".join(f"{pid}\n" for pid in live))
    os.replace(tmp, _pid_file)


class Proc:
    def __init__(self, name, popen, log_path):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.log_path = log_path

    def alive(self):
        return self.popen.poll() is None

    def tree(self):
        """This process and its descendants (nginx: master and workers)."""
        return [self.pid] + descendants(self.pid)

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


def start(name, argv, log_path, env=None, cwd=None):
    log = open(log_path, "ab")
    try:
        popen = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=cwd
        )
    finally:
        log.close()
    proc = Proc(name, popen, log_path)
    _started.append(proc)
    _record_pids()
    return proc


def stop(proc, grace=5.0):
    """SIGTERM to the process's descendants and then to it, SIGKILL after `grace` seconds."""
    if proc is None:
        return
    kids = descendants(proc.pid) if proc.alive() else []
    for pid in kids + [proc.pid]:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while proc.alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.alive():
        for pid in kids + [proc.pid]:
            _signal(pid, signal.SIGKILL)
        try:
            proc.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    for pid in kids:
        # Orphaned children are reparented to init; make sure none is left running.
        if _exists(pid):
            _signal(pid, signal.SIGKILL)
    if proc in _started:
        _started.remove(proc)
    _record_pids()


def stop_all():
    for proc in reversed(list(_started)):
        stop(proc, grace=3.0)


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exists(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (field 3 onwards)."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def descendants(pid):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for kid in children.get(todo.pop(), []):
            out.append(kid)
            todo.append(kid)
    return out


def cpu_seconds(pids):
    """User + system CPU time of the processes (all their threads), in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def _status_kib(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def reset_peak_rss(pids):
    """Resets VmHWM to the current RSS (Linux clear_refs 5), so a peak is per measurement."""
    ok = True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            ok = False
    return ok


def peak_rss_kib(pids):
    return sum(_status_kib(pid, "VmHWM") for pid in pids)


def rss_kib(pids):
    return sum(_status_kib(pid, "VmRSS") for pid in pids)


def tcp_active_opens():
    """Connections this host opened (all of loopback: clients to proxies, proxies to backends)."""
    try:
        with open("/proc/net/snmp") as f:
            lines = [line.split() for line in f if line.startswith("Tcp:")]
        header, values = lines[0], lines[1]
        return int(values[header.index("ActiveOpens")])
    except (OSError, IndexError, ValueError):
        return None


def machine_busy_seconds():
    """CPU time the whole machine spent busy (all CPUs, everything but idle and iowait)."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
        return (user + nice + system + irq + softirq + steal) / CLK_TCK
    except (OSError, ValueError):
        return None


def children_cpu_seconds():
    """CPU time of this harness's finished children (the load generators)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
