#!/usr/bin/python3
"""Charts bench_scenarios output (JSON lines, from --out) for the README's performance section.

    python3 bench/chart.py [--out-dir DIR] RUN.jsonl [OTHER.jsonl ...]

Each file is one run, labelled by its file name without the extension, so two builds (or a
run before and after a change) appear side by side. Writes into DIR (default bench/results):
  throughput.png  req/s of the throughput scenarios
  latency.png     p50 and p99 latency of every row that measured requests (log scale)
  values.png      every row's own value (wall times, List latency, restart, RSS), one panel each

Exit status 77 (ctest's skip) when matplotlib is missing, except under CI=true, where that
is a failure: CI installs python3-matplotlib (.ci/install-deps.sh --test).
"""

import argparse
import json
import os
import sys

SKIP = 77


def load_matplotlib():
    try:
        import matplotlib
    except ImportError:
        message = (f"no matplotlib for {sys.executable} (Debian: apt-get install "
                   "python3-matplotlib, for /usr/bin/python3)")
        if os.environ.get("CI") == "true":
            print(f"chart.py: {message}; CI must have it", file=sys.stderr)
            sys.exit(1)
        print(f"SKIP: {message}")
        sys.exit(SKIP)
    matplotlib.use("Agg")  # files only: no display, no network
    import matplotlib.pyplot as plt
    return plt


def read_runs(paths):
    """[(label, [row, ...])] in the order given; a row is one JSON line."""
    runs = []
    for path in paths:
        label = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if not rows:
            sys.exit(f"chart.py: {path} has no rows")
        runs.append((label, rows))
    return runs


def names_where(runs, keep):
    """Row names that pass `keep` in any run, in first-seen order."""
    names = []
    for _, rows in runs:
        for row in rows:
            if keep(row) and row["name"] not in names:
                names.append(row["name"])
    return names


def lookup(rows, name):
    return next((r for r in rows if r["name"] == name), None)


def readable(v):
    """12,345 or 98.7 or 0.123: never an exponent on a bar."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def grouped_bars(ax, runs, names, value_of, log=False):
    """One group per row name, one bar per run; a run without that row leaves a gap."""
    width = 0.8 / len(runs)
    for i, (label, rows) in enumerate(runs):
        xs, ys = [], []
        for j, name in enumerate(names):
            row = lookup(rows, name)
            if row is not None and value_of(row) is not None:
                xs.append(j + (i - (len(runs) - 1) / 2) * width)
                ys.append(value_of(row))
        bars = ax.bar(xs, ys, width, label=label)
        ax.bar_label(bars, labels=[readable(y) for y in ys], fontsize=7)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    if log:
        ax.set_yscale("log")
    ax.grid(axis="y", alpha=0.3)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="JSON-lines files written by bench_scenarios --out")
    ap.add_argument("--out-dir", default=os.path.join(here, "results"))
    args = ap.parse_args()

    runs = read_runs(args.runs)  # bad input fails before the skip check hides it
    plt = load_matplotlib()
    os.makedirs(args.out_dir, exist_ok=True)
    written = []

    throughput = names_where(runs, lambda r: r["unit"] == "req/s")
    if throughput:
        fig, ax = plt.subplots(figsize=(6, 4))
        grouped_bars(ax, runs, throughput, lambda r: r["value"])
        ax.set_ylabel("requests per second")
        ax.set_title("Throughput (higher is better)")
        ax.legend(fontsize=8)
        written.append(save(fig, args.out_dir, "throughput.png"))

    measured = names_where(runs, lambda r: r.get("requests", 0) > 0)
    if measured:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for ax, key in zip(axes, ("p50_us", "p99_us")):
            grouped_bars(ax, runs, measured, lambda r, k=key: r.get(k) or None, log=True)
            ax.set_ylabel("microseconds (log)")
            ax.set_title(f"{key[:3]} latency per request (lower is better)")
        axes[0].legend(fontsize=8)
        written.append(save(fig, args.out_dir, "latency.png"))

    values = names_where(runs, lambda r: r["unit"] != "req/s")
    if values:
        cols = min(4, len(values))
        rows = (len(values) + cols - 1) // cols
        fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3 * rows), squeeze=False)
        for ax in axes.flat[len(values):]:
            ax.set_visible(False)
        for ax, name in zip(axes.flat, values):
            first = next(lookup(rs, name) for _, rs in runs if lookup(rs, name))
            grouped_bars(ax, runs, [name], lambda r: r["value"])
            ax.set_xticklabels([])
            ax.set_title(f"{first['metric']}", fontsize=8)
            ax.set_ylabel(first["unit"], fontsize=8)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(runs), fontsize=8)
        fig.suptitle("Per-scenario values (time and memory: lower is better)")
        # Room at the bottom for the shared legend.
        written.append(save(fig, args.out_dir, "values.png", rect=(0, 0.08, 1, 1)))

    for path in written:
        print(path)


def save(fig, out_dir, name, rect=(0, 0, 1, 1)):
    path = os.path.join(out_dir, name)
    fig.tight_layout(rect=rect)
    fig.savefig(path, dpi=120)
    return path


if __name__ == "__main__":
    main()
