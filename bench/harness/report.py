"""Markdown tables: per scenario the contenders' medians over runs with their spread, and
fairlead's ratios to nginx, HAProxy and direct."""

import statistics

ORDER = ["direct", "fairlead", "nginx", "haproxy"]
LABEL = {"direct": "direct", "fairlead": "fairlead", "nginx": "nginx", "haproxy": "HAProxy"}


def fmt_rps(v):
    return f"{v / 1000:.1f}k" if v >= 10000 else f"{v:.0f}"


def _median(samples, key):
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def summarize(samples):
    """Median and spread of one contender's runs at one level."""
    ok = [s for s in samples if "error" not in s]
    if not ok:
        return {"error": samples[0].get("error", "no run") if samples else "no run"}
    rps = [s["rps"] for s in ok]
    out = {
        "runs": len(ok),
        "rps": statistics.median(rps),
        "rps_min": min(rps),
        "rps_max": max(rps),
        "p50": _median(ok, "p50"),
        "p99": _median(ok, "p99"),
        "p999": _median(ok, "p999"),
        "cpu": _median(ok, "cpu"),
        "backend_cpu": _median(ok, "backend_cpu"),
        "cpu_us_per_req": _median(ok, "cpu_us_per_req"),
        "rss_kib": max((s["rss_kib"] for s in ok if s.get("rss_kib")), default=None),
        "upstream_opens": _median(ok, "upstream_opens"),
        "mib_per_s": _median(ok, "bytes_per_s"),
        "errors": sum(s["errors"] for s in ok),
    }
    if len(ok) < len(samples):
        out["failed_runs"] = len(samples) - len(ok)
    return out


def _cell(v, fmt="{:.0f}"):
    return "–" if v is None else fmt.format(v)


def scenario_table(levels, summaries, show_throughput):
    """`summaries[(contender, level)]` -> summarize() output or {'na': reason}."""
    head = "| conns | contender | req/s (median) | range over runs | p50 µs | p99 µs | p99.9 µs | " \
           "proxy CPU s | proxy CPU µs/req | proxy peak RSS MiB | upstream conns opened | backend CPU s |"
    sep = "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    if show_throughput:
        head += " MiB/s |"
        sep += "---:|"
    rows = [head, sep]
    for level in levels:
        for name in ORDER:
            s = summaries.get((name, level))
            if s is None:
                continue
            if "na" in s:
                rows.append(f"| {level} | {LABEL[name]} | n/a: {s['na']} |" + " |" * (10 if show_throughput else 9))
                continue
            if "error" in s:
                rows.append(f"| {level} | {LABEL[name]} | FAILED: {s['error'][:120]} |"
                            + " |" * (10 if show_throughput else 9))
                continue
            spread = (s["rps_max"] - s["rps_min"]) / s["rps"] * 100 if s["rps"] else 0
            errors = f" ({s['errors']} errors)" if s["errors"] else ""
            row = (
                f"| {level} | {LABEL[name]} | {fmt_rps(s['rps'])}{errors} | {fmt_rps(s['rps_min'])}–"
                f"{fmt_rps(s['rps_max'])} (±{spread / 2:.0f}%) | {_cell(s['p50'])} | {_cell(s['p99'])} | "
                f"{_cell(s['p999'])} | "
                + ("–" if name == "direct" else _cell(s["cpu"], "{:.2f}"))
                + " | "
                + ("–" if name == "direct" else _cell(s["cpu_us_per_req"], "{:.1f}"))
                + " | "
                + ("–" if name == "direct" else _cell(s["rss_kib"] and s["rss_kib"] / 1024, "{:.1f}"))
                + " | "
                + ("–" if name == "direct" else _cell(s["upstream_opens"]))
                + f" | {_cell(s['backend_cpu'], '{:.2f}')} |"
            )
            if show_throughput:
                row += f" {_cell(s['mib_per_s'] and s['mib_per_s'] / 2**20, '{:.0f}')} |"
            rows.append(row)
    return "\n".join(rows)


def _ratio(a, b, fmt="{:.2f}"):
    if a is None or b is None or not b:
        return "–"
    return fmt.format(a / b)


def ratio_table(levels, summaries):
    rows = ["| conns | req/s fairlead/nginx | req/s fairlead/HAProxy | req/s fairlead/direct | "
            "p99 fairlead/nginx | p99 fairlead/HAProxy | p50 added vs direct µs |",
            "|---:|---:|---:|---:|---:|---:|---:|"]
    for level in levels:
        f = summaries.get(("fairlead", level), {})
        n = summaries.get(("nginx", level), {})
        h = summaries.get(("haproxy", level), {})
        d = summaries.get(("direct", level), {})
        added = "–"
        if f.get("p50") is not None and d.get("p50") is not None:
            added = f"{f['p50'] - d['p50']:.0f}"
        rows.append(
            f"| {level} | {_ratio(f.get('rps'), n.get('rps'))} | {_ratio(f.get('rps'), h.get('rps'))} | "
            f"{_ratio(f.get('rps'), d.get('rps'))} | {_ratio(f.get('p99'), n.get('p99'))} | "
            f"{_ratio(f.get('p99'), h.get('p99'))} | {added} |"
        )
    return "\n".join(rows)
