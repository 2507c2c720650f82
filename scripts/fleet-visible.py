#!/usr/bin/env python3
"""Which drifts and correlation breaks of a simulated fleet a per-device
detector can see at all (docs/eval.md).

An event is visible when, at some point during it, a 10-minute mean of the
device's temperature, humidity or dew point leaves the range of its
10-minute means on the day it learned from (the first day of the file);
one that stays inside that range for its whole length looks like the
device's own normal and needs a reference outside the device. Caught: the
predictions' alert column goes from 0 to 1 in [start, max(end, start +
300 s)), eval's rule for a raise.

usage: fleet-visible.py FLEET.csv TRUTH.csv PREDICTIONS.csv [LEARN_SECONDS]
  (FLEET.csv as `iotad sim --fleet --csv` writes it, PREDICTIONS.csv as
  `iotad eval --predictions` writes it; LEARN_SECONDS 86400 by default)
"""
import collections
import csv
import math
import sys

BIN = 600.0
KINDS = ("drift", "correlation_break")


def dew_point(t, rh):
    b, c = 17.62, 243.12
    r = min(max(rh, 1.0), 100.0)
    tt = min(max(t, -60.0), 80.0)
    g = math.log(r / 100.0) + b * tt / (c + tt)
    return c * g / (b - g)


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    fleet, truth_path, pred = argv[1:4]
    learn = float(argv[4]) if len(argv) == 5 else 86400.0
    truth = [r for r in csv.DictReader(open(truth_path)) if r["kind"] in KINDS]
    devices = {r["device"] for r in truth}
    sums = collections.defaultdict(lambda: [0.0, 0.0, 0.0, 0])
    t0 = None
    with open(fleet) as f:
        for row in csv.DictReader(f):
            if t0 is None:
                t0 = float(row["ts"])
            if row["device"] not in devices:
                continue
            ts, t, h = float(row["ts"]), float(row["temperature"]), float(row["humidity"])
            s = sums[(row["device"], int((ts - t0) // BIN))]
            s[0] += t
            s[1] += h
            s[2] += dew_point(t, h)
            s[3] += 1
    if t0 is None:
        sys.exit("fleet-visible: %s has no rows" % fleet)
    ranges = collections.defaultdict(lambda: [[math.inf, -math.inf] for _ in range(3)])
    for (dev, b), s in sums.items():
        if (b + 1) * BIN <= learn and s[3]:
            for i in range(3):
                r = ranges[dev][i]
                r[0] = min(r[0], s[i] / s[3])
                r[1] = max(r[1], s[i] / s[3])
    raises, prev = collections.defaultdict(list), {}
    with open(pred) as f:
        for row in csv.DictReader(f):
            up = row["alert"] == "1"
            if up and not prev.get(row["device"], False):
                raises[row["device"]].append(float(row["ts"]))
            prev[row["device"]] = up
    out = collections.defaultdict(lambda: [0, 0, 0, 0])
    for r in truth:
        start, end, dev = float(r["start"]), float(r["end"]), r["device"]
        caught = any(start <= x < max(end, start + 300.0) for x in raises[dev])
        visible = False
        for b in range(int((start - t0) // BIN), int((end - t0) // BIN)):
            s = sums.get((dev, b))
            if not s or not s[3]:
                continue
            for i in range(3):
                lo, hi = ranges[dev][i]
                if not lo <= s[i] / s[3] <= hi:
                    visible = True
        k = out[r["kind"]]
        k[0] += 1
        k[1] += caught
        k[2] += visible
        k[3] += caught and visible
    print("kind                events  caught  visible  caught of visible")
    for kind in KINDS:
        n, c, v, cv = out[kind]
        print("%-18s %7d %7d %8d %8d (%s)" % (kind, n, c, v, cv,
              "%.3f" % (cv / v) if v else "-"))


if __name__ == "__main__":
    main(sys.argv)
