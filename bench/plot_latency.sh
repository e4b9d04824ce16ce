#!/usr/bin/env bash
# Latency against throughput, as an SVG: for every load benchmark of a sweep
# (bench/sweep.sh, or inventory_bench --rate=a,b,c / --inflight=a,b,c with
# --benchmark_out), p50 and p99 against the achieved rate, one line each,
# log-scaled latency. Several result files give several series (one colour
# each), to compare two servers or two builds on one chart.
#
# Usage: bench/plot_latency.sh RESULT.json [RESULT2.json ...] OUT.svg
# Needs only Debian's python3 (the SVG is written directly, no plotting
# package). Each point is labelled with its offered rate (open loop) or
# calls in flight (closed loop).
set -euo pipefail
if (($# < 2)); then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
fi
exec /usr/bin/python3 - "$@" <<'PY'
import html
import json
import math
import os
import re
import sys

*inputs, output = sys.argv[1:]
series = []
for path in inputs:
    data = json.load(open(path))
    points = []
    for run in data.get("benchmarks", []):
        if not run["name"].startswith("Load/") or run.get("error_occurred"):
            continue
        if run.get("run_type") == "aggregate":
            continue
        level = re.search(r"/(rate|inflight):([0-9.]+)", run["name"])
        label = f"{level.group(2)}/s" if level and level.group(1) == "rate" else (
            f"{level.group(2)} in flight" if level else "")
        order = float(level.group(2)) if level else run["calls_per_second"]
        points.append((run["calls_per_second"], run["p50_us"], run["p99_us"], label,
                       run.get("errors", 0), order))
    if not points:
        sys.exit(f"plot_latency: no load benchmark in {path}")
    # Joined in the order of the load offered, not of the rate achieved: past
    # saturation a higher offered rate can achieve less, and the line bends back.
    points.sort(key=lambda p: p[5])
    context = data.get("context", {})
    name = os.path.basename(path).removesuffix(".json")
    method = context.get("load_method", "").rsplit("/", 1)[-1]
    series.append((name, method, context, points))

W, H = 860, 520
left, right, top, bottom = 80, 30, 60, 70
pw, ph = W - left - right, H - top - bottom
xs = [p[0] for _, _, _, pts in series for p in pts]
ys = [v for _, _, _, pts in series for p in pts for v in (p[1], p[2]) if v > 0]
x_max = max(xs) * 1.08
y_lo = 10 ** math.floor(math.log10(min(ys)))
y_hi = 10 ** math.ceil(math.log10(max(ys)))
if y_hi / y_lo < 100:
    y_hi = y_lo * 100


def sx(x):
    return left + pw * x / x_max


def sy(y):
    y = max(y, y_lo)
    return top + ph * (1 - (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo)))


def nice_step(span):
    raw = span / 6
    mag = 10 ** math.floor(math.log10(raw))
    return next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)


def fmt_rate(v):
    return f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"


def fmt_us(v):
    return f"{v / 1000:g} ms" if v >= 1000 else f"{v:g} us"


out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
       f'font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>']
first = series[0]
title = f"{first[1] or 'load'}: latency against throughput"
subtitle = first[2].get("load_shape", "")
out.append(f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="16">{html.escape(title)}</text>')
out.append(f'<text x="{W / 2}" y="40" text-anchor="middle" fill="#555">{html.escape(subtitle)}</text>')
# Grid and axes.
step = nice_step(x_max)
x = 0.0
while x <= x_max:
    out.append(f'<line x1="{sx(x):.1f}" y1="{top}" x2="{sx(x):.1f}" y2="{top + ph}" stroke="#eee"/>')
    out.append(f'<text x="{sx(x):.1f}" y="{top + ph + 16}" text-anchor="middle">{fmt_rate(x)}</text>')
    x += step
decade = y_lo
while decade <= y_hi * 1.0001:
    for m in (1, 2, 5):
        y = decade * m
        if y > y_hi * 1.0001:
            break
        colour = "#ccc" if m == 1 else "#f0f0f0"
        out.append(f'<line x1="{left}" y1="{sy(y):.1f}" x2="{left + pw}" y2="{sy(y):.1f}" stroke="{colour}"/>')
        out.append(f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{fmt_us(y)}</text>')
    decade *= 10
out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>')
out.append(f'<text x="{left + pw / 2}" y="{H - 28}" text-anchor="middle">achieved rate, successful calls per second</text>')
out.append(f'<text x="18" y="{top + ph / 2}" text-anchor="middle" transform="rotate(-90 18 {top + ph / 2})">'
           'latency (log scale)</text>')
colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
legend_y = top + 14
for i, (name, method, context, points) in enumerate(series):
    colour = colours[i % len(colours)]
    for column, dash, what in ((1, "5,4", "p50"), (2, "", "p99")):
        path = " ".join(f"{'M' if j == 0 else 'L'}{sx(p[0]):.1f},{sy(p[column]):.1f}"
                        for j, p in enumerate(points))
        out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2" '
                   f'stroke-dasharray="{dash}"/>')
        for p in points:
            shape = "circle" if column == 2 else "rect"
            if shape == "circle":
                out.append(f'<circle cx="{sx(p[0]):.1f}" cy="{sy(p[column]):.1f}" r="3.5" fill="{colour}"/>')
            else:
                out.append(f'<rect x="{sx(p[0]) - 3:.1f}" y="{sy(p[column]) - 3:.1f}" width="6" height="6" '
                           f'fill="white" stroke="{colour}"/>')
        label = f"{what}{' ' + name if len(series) > 1 else ''}"
        out.append(f'<line x1="{left + 12}" y1="{legend_y}" x2="{left + 42}" y2="{legend_y}" '
                   f'stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>')
        out.append(f'<text x="{left + 48}" y="{legend_y + 4}">{html.escape(label)}</text>')
        legend_y += 16
    for p in points:  # the level of each point, above its p99
        note = p[3] + (f", {p[4]:g} errors" if p[4] else "")
        out.append(f'<text x="{sx(p[0]):.1f}" y="{sy(p[2]) - 8:.1f}" text-anchor="middle" '
                   f'font-size="10" fill="#444">{html.escape(note)}</text>')
footer = " | ".join(f"{name}: {c.get('load_target', '')} {c.get('load_ids', '')}, {c.get('date', '')}"
                    for name, _, c, _ in series)
out.append(f'<text x="{left}" y="{H - 8}" font-size="10" fill="#777">{html.escape(footer)}</text>')
out.append("</svg>")
with open(output, "w") as f:
    f.write("\n".join(out) + "\n")
print(f"plot_latency: wrote {output} ({sum(len(s[3]) for s in series)} points)", file=sys.stderr)
PY
