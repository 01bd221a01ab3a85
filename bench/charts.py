"""The charts of `make bench` (issue 15): one SVG per family of figures
(requests/s, latency, throughput, boot time, memory), ours beside the Linux
guest and native, drawn with Debian's python3-matplotlib from the same
Results as the table, and written beside the page (docs/figures/bench-*.svg
for docs/benchmarks.md).

Each bar is a target's median at its best CPU model (the model is written
under the bar), its whisker the [min-max] over the repetitions; the scale is
logarithmic, since native and the guests are orders of magnitude apart.
The SVG is deterministic for the same numbers: a fixed hash salt for the
element ids, no date in the metadata, text kept as text.
"""
import statistics

import report

FAMILIES = [
    ("rps", "Requests and connections per second (higher is better)",
     ["wrk1.rps", "wrk64.rps", "wrk612.rps", "conn.rps"],
     ["wrk -c1\n/hello", "wrk -c64\n/hello", "wrk -c30\n/bytes/612", "ab -c16\nnew conns"]),
    ("latency", "Latency, ms (lower is better)",
     ["wrk1.p50", "wrk1.p99", "wrk64.p50", "wrk64.p99", "wrk612.p50", "wrk612.p99", "ping.rtt"],
     ["-c1 p50", "-c1 p99", "-c64 p50", "-c64 p99", "612 B p50", "612 B p99", "ping"]),
    ("throughput", "Bulk throughput, MB/s (higher is better)",
     ["bulk.mbs", "upload.mbs", "iperf.mbs"],
     ["guest sends\ncurl /bytes/N", "guest receives\ncurl -T /sink", "iperf 2\n(client sends)"]),
    ("boot", "Boot to first HTTP 200, ms (lower is better)",
     ["boot.kernel.seabios", "boot.kernel.qboot", "boot.pvh.seabios", "boot.pvh.qboot", "boot.iso.seabios",
      "mvm.boot.kernel.qboot", "mvm.boot.pvh.qboot"],
     ["-kernel\nSeaBIOS", "-kernel\nqboot", "PVH vmlinux\nSeaBIOS", "PVH vmlinux\nqboot", "GRUB ISO\nSeaBIOS",
      "microvm\nmultiboot", "microvm\nPVH"]),
    ("memory", "Memory, MiB (lower is better)",
     ["mem.min", "mem.rss"], ["smallest -m\nthat serves", "RSS under\nwrk -c64"]),
]
COLORS = {"ours": "#1d4ed8", "linux": "#d97706", "native": "#6b7280"}


def write(results, measured, outdir):
    """Draw every family that has a number; return [(family title, Path)]."""
    import matplotlib
    matplotlib.use("svg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams.update({"svg.hashsalt": "unikernel-bench", "svg.fonttype": "none",
                                "font.family": "DejaVu Sans", "font.size": 9})
    outdir.mkdir(parents=True, exist_ok=True)
    written = []
    targets = [t for t in report.TARGETS if t in measured]
    for name, title, rows, labels in FAMILIES:
        cells = {}
        for row in rows:
            for t in targets:
                variant, xs, _ = results.best(t, row)
                if xs:
                    cells[(t, row)] = (statistics.median(xs), min(xs), max(xs), report.cpu_of(variant)
                                       if len(results.variants(t, row)[1]) > 1 else None)
        rows_here = [(r, lab) for r, lab in zip(rows, labels) if any((t, r) in cells for t in targets)]
        if not rows_here:
            continue
        fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(rows_here) + 1.5), 3.8))
        width = 0.8 / len(targets)
        for i, t in enumerate(targets):
            xs, ys, lo, hi, cpus = [], [], [], [], []
            for j, (row, _) in enumerate(rows_here):
                if (t, row) not in cells:
                    continue
                med, mn, mx, cpu = cells[(t, row)]
                xs.append(j + (i - (len(targets) - 1) / 2) * width)
                ys.append(med)
                lo.append(med - mn)
                hi.append(mx - med)
                cpus.append(cpu)
            if not xs:
                continue
            ax.bar(xs, ys, width * 0.92, yerr=[lo, hi], capsize=2, color=COLORS[t], label=report.LABELS[t],
                   error_kw={"elinewidth": 0.8, "ecolor": "#111827"})
            for x, y, cpu in zip(xs, ys, cpus):
                ax.annotate(report.num(y), (x, y), textcoords="offset points", xytext=(0, 3), ha="center",
                            va="bottom", fontsize=6.5, rotation=90)
                if cpu:
                    ax.annotate(cpu, (x, 0), xycoords=("data", "axes fraction"), textcoords="offset points",
                                xytext=(0, 2), ha="center", va="bottom", fontsize=5.5, rotation=90,
                                color="white")
        ax.set_yscale("log")
        ax.set_xticks(range(len(rows_here)))
        ax.set_xticklabels([lab for _, lab in rows_here], fontsize=7.5)
        ax.set_title(title, fontsize=10)
        top = max(v[2] for v in cells.values())
        bottom = min(v[1] for v in cells.values())
        ax.set_ylim(bottom / 4, top * 12)
        ax.legend(fontsize=8, loc="upper left", ncols=len(targets), frameon=False)
        ax.grid(axis="y", which="major", linewidth=0.4, color="#d1d5db")
        ax.set_axisbelow(True)
        fig.tight_layout()
        path = outdir / f"bench-{name}.svg"
        fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
        plt.close(fig)
        written.append((title, path))
    return written
