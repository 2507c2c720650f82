#!/usr/bin/env python3
"""F1 per round of a federated simulation as an SVG: the federated model
with the global threshold and with per-gateway thresholds, personalized
(when bench_fedsim ran with --personalize), and the pooled and local
references as horizontal lines.

usage: fed-plot.py BENCH_FEDSIM_OUTPUT OUT.SVG [TITLE]

BENCH_FEDSIM_OUTPUT is what `bench_fedsim` prints (its "round N" lines,
and the "pooled (same windows)" and "local (own models)" lines when it ran
them). Standard library only.
"""
import re
import sys

W, H, L, R, T, B = 720.0, 360.0, 60.0, 200.0, 40.0, 40.0
LINE = re.compile(r"global thr: F1 ([0-9.]+).*per-gateway thr: F1 ([0-9.]+)")
PERS = re.compile(r"^\s+personalized \((\w+), own thr\): F1 ([0-9.]+)")


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rounds, refs, pers, mode = [], {}, [], ""
    for line in open(sys.argv[1], encoding="utf-8"):
        m = PERS.search(line)
        if m and rounds:
            mode = m.group(1)
            pers.append((rounds[-1][0], float(m.group(2))))
            continue
        m = LINE.search(line)
        if not m:
            continue
        g, p = float(m.group(1)), float(m.group(2))
        if line.startswith("round"):
            rounds.append((int(line.split()[1]), g, p))
        elif line.startswith("pooled"):
            refs["pooled, per-gateway thr"] = p
        elif line.startswith("local"):
            refs["local (own models)"] = g
    if not rounds:
        sys.exit("%s: no round lines" % sys.argv[1])
    n = rounds[-1][0]
    vals = [v for r in rounds for v in r[1:]] + list(refs.values()) + [p[1] for p in pers]
    lo, hi = max(0.0, min(vals) - 0.05), min(1.0, max(vals) + 0.05)
    x = lambda r: L + (W - L - R) * (r - 1) / max(1, n - 1)
    y = lambda v: T + (H - T - B) * (hi - v) / (hi - lo)
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
           'font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%g" y="20" font-size="14">%s</text>' % (L, esc(sys.argv[3] if len(sys.argv) > 3
                                                                  else "F1 per round"))]
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        out.append('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="#ddd"/>' % (L, W - R, y(v), y(v)))
        out.append('<text x="%g" y="%g" text-anchor="end">%.2f</text>' % (L - 6, y(v) + 4, v))
    for r in sorted({1, n, *range(5, n + 1, 5)}):
        out.append('<text x="%g" y="%g" text-anchor="middle">%d</text>' % (x(r), H - B + 16, r))
    out.append('<text x="%g" y="%g" text-anchor="middle">round</text>' % ((L + W - R) / 2, H - 6))
    series = [("federated, per-gateway thr", "#1f77b4", 2), ("federated, global thr", "#ff7f0e", 1)]
    for name, color, col in series:
        pts = " ".join("%.1f,%.1f" % (x(r[0]), y(r[col])) for r in rounds)
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (color, pts))
    if pers:
        series.append(("personalized (%s)" % mode, "#9467bd", None))
        pts = " ".join("%.1f,%.1f" % (x(r), y(v)) for r, v in pers)
        out.append('<polyline fill="none" stroke="#9467bd" stroke-width="2" '
                   'stroke-dasharray="2,2" points="%s"/>' % pts)
    dash = {"pooled, per-gateway thr": "#2ca02c", "local (own models)": "#d62728"}
    for name, v in refs.items():
        out.append('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-dasharray="6,4"/>'
                   % (L, W - R, y(v), y(v), dash[name]))
    legend = series + [(k, dash[k], None) for k in refs]
    for i, (name, color, _) in enumerate(legend):
        yy = T + 10 + 18 * i
        out.append('<line x1="%g" x2="%g" y1="%g" y2="%g" stroke="%s" stroke-width="2"/>'
                   % (W - R + 10, W - R + 30, yy, yy, color))
        out.append('<text x="%g" y="%g">%s</text>' % (W - R + 35, yy + 4, esc(name)))
    out.append("</svg>")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
