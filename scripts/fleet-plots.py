#!/usr/bin/env python3
"""One SVG per device kind of the simulated fleet: one device's temperature
and humidity over the test days, the truth's anomalies shaded (kind named),
its benign changes marked, and the detector's alarms (the `alert` column of
`iotad eval --predictions`) as a bar below.

usage: fleet-plots.py FLEET.CSV TRUTH.CSV PREDICTIONS.CSV OUTDIR [FROM_TS]

FLEET.CSV is `iotad sim --fleet --csv` (ts,device,temperature,humidity,...),
TRUTH.CSV its --truth file, FROM_TS where the plot starts (default: the
first predicted ts). Per kind the device shown is the one with the most
kinds of anomaly in the plotted span, then the most benign changes, then
its name (deterministic). Writes OUTDIR/fleet-KIND.svg. Standard library only.
"""
import csv
import os
import sys
from collections import defaultdict

KINDS = ["office", "server", "cold", "outdoor", "greenhouse"]
TITLES = {"office": "office HVAC", "server": "server room", "cold": "cold room",
          "outdoor": "outdoor station", "greenhouse": "greenhouse"}
W, L, R = 1000.0, 60.0, 20.0
PANEL, GAP, TOP, ALARM_H = 150.0, 30.0, 40.0, 16.0
BUCKETS = 900


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;")


def load(fleet, truth, preds, t0):
    series = defaultdict(list)      # device -> [(ts, temperature, humidity)]
    with open(fleet, newline="") as f:
        for row in csv.DictReader(f):
            ts = float(row["ts"])
            if ts >= t0:
                series[row["device"]].append(
                    (ts, float(row["temperature"]), float(row["humidity"])))
    alerts = defaultdict(list)      # device -> [(ts, alert)]
    with open(preds, newline="") as f:
        for row in csv.DictReader(f):
            ts = float(row["ts"])
            if ts >= t0:
                alerts[row["device"]].append((ts, row["alert"] == "1"))
    events = defaultdict(list)      # device -> [(kind, start, end)]
    with open(truth, newline="") as f:
        for row in csv.DictReader(f):
            events[row["device"]].append((row["kind"], float(row["start"]), float(row["end"])))
    return series, alerts, events


def pick(kind, series, events, t0, t1):
    best = None
    for dev in sorted(series):
        if not dev.startswith(kind + "-"):
            continue
        ev = [e for e in events.get(dev, []) if e[2] >= t0 and e[1] <= t1]
        anomalies = {e[0] for e in ev if not e[0].startswith("benign")}
        benign = sum(e[0].startswith("benign") for e in ev)
        key = (-len(anomalies), -benign, dev)
        if best is None or key < best[0]:
            best = (key, dev)
    return best[1] if best else None


def line(pts, t0, t1, y0, lo, hi, color):
    """Min and max per bucket (a one-sample spike stays visible)."""
    span = (hi - lo) or 1.0
    buckets = defaultdict(list)
    for ts, v in pts:
        buckets[int((ts - t0) / (t1 - t0) * (BUCKETS - 1))].append(v)
    out = []
    for b in sorted(buckets):
        x = L + (W - L - R) * b / (BUCKETS - 1)
        for v in (min(buckets[b]), max(buckets[b])):
            out.append("%.1f,%.1f" % (x, y0 + PANEL - (v - lo) / span * PANEL))
    return '<polyline fill="none" stroke="%s" stroke-width="1" points="%s"/>\n' % (
        color, " ".join(out))


def plot(path, kind, dev, pts, alerts, events, t0, t1):
    xs = lambda ts: L + (W - L - R) * (min(max(ts, t0), t1) - t0) / (t1 - t0)
    h = TOP + 2 * PANEL + GAP + 20 + ALARM_H + 50
    o = ['<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" '
         'viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="11">\n'
         '<rect width="100%%" height="100%%" fill="white"/>\n' % (W, h, W, h)]
    o.append('<text x="10" y="18" font-size="14">%s: %s over the two test days; '
             'shaded: injected anomalies; green dashes: benign changes; '
             'red bar: alarms</text>\n' % (esc(TITLES[kind]), esc(dev)))
    panels = [("temperature \u00b0C", 1, "#c0392b", TOP),
              ("humidity %", 2, "#2471a3", TOP + PANEL + GAP)]
    alarm_y = TOP + 2 * PANEL + GAP + 20
    bottom = alarm_y + ALARM_H
    for kind_, start, end in events:
        if end < t0 or start > t1:
            continue
        if kind_.startswith("benign"):
            x = xs(start)
            o.append('<line x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f" stroke="#1e8449" '
                     'stroke-dasharray="4,3"/>\n' % (x, TOP, x, bottom))
            o.append('<text x="%.1f" y="%.0f" fill="#1e8449" font-size="10">%s</text>\n'
                     % (x + 2, TOP + 2 * PANEL + GAP + 12, esc(kind_[7:])))
        else:
            x0, x1 = xs(start), max(xs(end), xs(start) + 2)
            o.append('<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#f5b041" '
                     'fill-opacity="0.35"/>\n' % (x0, TOP, x1 - x0, bottom - TOP))
            o.append('<text x="%.1f" y="%.0f" font-size="10">%s</text>\n'
                     % (x0 + 2, TOP + 10, esc(kind_)))
    for label, col, color, y0 in panels:
        vals = [(p[0], p[col]) for p in pts]
        lo, hi = min(v for _, v in vals), max(v for _, v in vals)
        pad = (hi - lo) * 0.05 or 0.5
        lo, hi = lo - pad, hi + pad
        o.append('<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" '
                 'stroke="#999"/>\n' % (L, y0, W - L - R, PANEL))
        for frac in (0.0, 0.5, 1.0):
            v = lo + (hi - lo) * frac
            o.append('<text x="%.0f" y="%.1f" text-anchor="end">%.1f</text>\n'
                     % (L - 4, y0 + PANEL - frac * PANEL + 4, v))
        o.append('<text x="%.0f" y="%.0f" fill="%s">%s</text>\n' % (L + 4, y0 + PANEL - 4,
                                                                  color, esc(label)))
        o.append(line(vals, t0, t1, y0, lo, hi, color))
    o.append('<text x="%.0f" y="%.0f" text-anchor="end">alarm</text>\n'
             % (L - 4, alarm_y + 12))
    o.append('<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" '
             'stroke="#999"/>\n' % (L, alarm_y, W - L - R, ALARM_H))
    run = None
    for ts, on in alerts + [(t1 + 1, False)]:
        if on and run is None:
            run = ts
        elif not on and run is not None:
            x0 = xs(run)
            o.append('<rect x="%.1f" y="%.0f" width="%.1f" height="%.0f" fill="#c0392b"/>\n'
                     % (x0, alarm_y, max(xs(ts) - x0, 1.5), ALARM_H))
            run = None
    for hour in range(0, int((t1 - t0) / 3600) + 1, 6):
        x = xs(t0 + hour * 3600)
        o.append('<text x="%.1f" y="%.0f" text-anchor="middle">%dh</text>\n'
                 % (x, bottom + 16, hour))
    o.append('<text x="%.0f" y="%.0f" text-anchor="middle">hours into the test days</text>\n'
             % ((L + W - R) / 2, bottom + 34))
    o.append("</svg>\n")
    with open(path, "w") as f:
        f.write("".join(o))


def main(argv):
    if len(argv) not in (5, 6):
        sys.stderr.write(__doc__)
        return 2
    fleet, truth, preds, outdir = argv[1:5]
    t0 = float(argv[5]) if len(argv) == 6 else None
    if t0 is None:
        with open(preds, newline="") as f:
            t0 = min(float(r["ts"]) for r in csv.DictReader(f))
    series, alerts, events = load(fleet, truth, preds, t0)
    t1 = max(p[0] for pts in series.values() for p in pts)
    os.makedirs(outdir, exist_ok=True)
    for kind in KINDS:
        dev = pick(kind, series, events, t0, t1)
        if not dev:
            sys.stderr.write("fleet-plots: no %s device\n" % kind)
            return 1
        path = os.path.join(outdir, "fleet-%s.svg" % kind)
        plot(path, kind, dev, series[dev], alerts.get(dev, []), events.get(dev, []), t0, t1)
        print("%s: %s" % (path, dev))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
