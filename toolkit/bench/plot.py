"""``--plot FILE.png``: latency against throughput, one curve per protocol (p50 solid, p99 dashed), drawn with
matplotlib (the ``gate`` or ``toolkit`` extra brings it)."""

from __future__ import annotations

from pathlib import Path

from toolkit._extras import require
from toolkit.bench.report import BenchReport


def plot_report(report: BenchReport, path: str | Path) -> Path:
    matplotlib = require("matplotlib", "gate", purpose="tfs bench --plot")
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(7.5, 4.8), dpi=110)
    for index, protocol in enumerate(dict.fromkeys(r.protocol for r in report.levels)):
        rows = [(r, r.merged.latency_ms) for r in report.levels
                if r.protocol == protocol and r.merged and r.merged.latency_ms]
        if not rows:
            continue
        color = f"C{index}"
        x = [r.throughput for r, _ in rows]
        ax.plot(x, [latency["p50"] for _, latency in rows], "o-", color=color, label=f"{protocol} p50")
        ax.plot(x, [latency["p99"] for _, latency in rows], "s--", color=color, alpha=0.7,
                label=f"{protocol} p99")
        for r, latency in rows:
            ax.annotate(r.level.label, (r.throughput, latency["p50"]), textcoords="offset points",
                        xytext=(4, -10), fontsize=7, color=color)
    target = report.model + (f" v{report.version}" if report.version else "")
    m = report.machine
    ax.set_title(f"tfs bench {target}\n{m.get('cpus', '?')} CPUs, {m.get('cpu', '')}, "
                 f"load average {m.get('load_average_1m', '?')}", fontsize=9)
    ax.set_xlabel("throughput (requests/s)")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.set_xlim(left=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png")
    plt.close(fig)
    return path
