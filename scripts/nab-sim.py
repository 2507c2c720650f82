#!/usr/bin/env python3
"""Synthetic univariate series with the character of the Numenta Anomaly
Benchmark (NAB), in its layout, for tuning and testing `iotad eval
--layout nab` where NAB itself is not at hand. Seeded and deterministic.

usage: nab-sim.py --seed S --out DIR [--series N]

Writes DIR/data/<kind>/<kind>_<i>.csv (timestamp,value, one row every 5
minutes, timestamps like 2014-04-10 07:15:00) and DIR/combined_windows.json
({"<kind>/<kind>_<i>.csv": [["start", "end"], ...]}), and DIR/anomalies.csv
(file,kind,start,end: what was injected, for reading the results).

Kinds of series (normal behaviour, then what may go wrong):
- machine:  a machine temperature, slow wander and a weak daily cycle; a
            failure (slow climb then a crash), a level drop, a spike
- cpu:      a server's CPU %, noisy with short busy spikes that are normal;
            a lasting level change, a noise change, a runaway climb
- traffic:  road speed or occupancy with rush hours on weekdays; a day
            without its pattern (flat), a pattern shifted by hours, a drop
- tweets:   counts a 5 minutes (Poisson) with a daily rhythm; a burst,
            a day with the rhythm gone, a silent stretch
- sensor:   a sensor with a daily cycle; stuck (flat line), noise burst,
            dropout to zero, a level shift
- periodic: a strong daily wave (artificial); an amplitude change, a
            frequency change, a flat stretch, a jump
Every series is 4,000 to 16,000 rows (14 to 55 days); its anomalies (1 to
3) start after its first 15 % (NAB's probationary period) and the windows
are sized as NAB's: 10 % of the series' length split across its anomalies,
centred on the anomaly's start. Standard library only.
"""
import argparse
import csv
import json
import math
import os
import random
from datetime import datetime, timedelta, timezone

STEP = 300  # seconds
DAY = 86400 // STEP
WEEK = 7 * DAY
KINDS = ["machine", "cpu", "traffic", "tweets", "sensor", "periodic"]


def daily(i, phase=0.0):
    return math.sin(2 * math.pi * ((i % DAY) / DAY - phase))


def rush(i, weekday_start):
    """Speed dips at 8:00 and 17:30 on weekdays (0..1)."""
    h = (i % DAY) * 24.0 / DAY
    wd = ((i // DAY) + weekday_start) % 7
    if wd >= 5:
        return 0.15 * math.exp(-((h - 13) ** 2) / 8)
    return math.exp(-((h - 8) ** 2) / 1.2) + 0.8 * math.exp(-((h - 17.5) ** 2) / 1.5)


def base_series(kind, n, r):
    """The normal behaviour of a series of kind, n rows."""
    x = []
    if kind == "machine":
        lvl, ar = r.uniform(70, 90), 0.0
        amp = r.uniform(0.5, 2.5)
        for i in range(n):
            ar = 0.98 * ar + r.gauss(0, 0.35)
            x.append(lvl + amp * daily(i, 0.3) + ar)
    elif kind == "cpu":
        lvl = r.uniform(20, 45)
        sd = r.uniform(1.0, 3.0)
        for i in range(n):
            v = lvl + r.gauss(0, sd)
            if r.random() < 0.01:
                v += r.uniform(15, 40)  # a normal busy moment
            x.append(min(100.0, max(0.0, v)))
    elif kind == "traffic":
        free, depth = r.uniform(55, 70), r.uniform(20, 35)
        wds = r.randrange(7)
        for i in range(n):
            x.append(free - depth * rush(i, wds) + r.gauss(0, 2.0))
    elif kind == "tweets":
        rate = r.uniform(8, 40)
        amp = r.uniform(0.4, 0.8)
        for i in range(n):
            lam = rate * (1 + amp * daily(i, 0.2))
            x.append(poisson(r, lam))
    elif kind == "sensor":
        lvl, amp = r.uniform(15, 25), r.uniform(2, 5)
        for i in range(n):
            x.append(lvl + amp * daily(i, 0.25) + r.gauss(0, 0.3))
    else:  # periodic
        lvl, amp = r.uniform(40, 60), r.uniform(10, 20)
        for i in range(n):
            x.append(lvl + amp * daily(i) + r.gauss(0, 0.5))
    return x


def poisson(r, lam):
    if lam > 60:
        return max(0, int(round(r.gauss(lam, math.sqrt(lam)))))
    L, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= r.random()
        if p <= L:
            return k
        k += 1


ANOMALIES = {
    "machine": ["failure", "level_drop", "spike"],
    "cpu": ["level_change", "noise_change", "runaway"],
    "traffic": ["pattern_gone", "pattern_shift", "drop"],
    "tweets": ["burst", "pattern_gone", "silence"],
    "sensor": ["stuck", "noise_burst", "dropout", "level_shift"],
    "periodic": ["amplitude", "frequency", "flat", "jump"],
}


def inject(kind, what, x, s, r):
    """Change x from row s on; returns the anomaly's last row."""
    n = len(x)
    mean = sum(x[max(0, s - DAY):s]) / max(1, len(x[max(0, s - DAY):s]))
    sd = (sum((v - mean) ** 2 for v in x[max(0, s - DAY):s]) / max(1, min(s, DAY))) ** 0.5
    sd = max(sd, 1e-3)
    if what == "failure":  # climbs for hours, then crashes and stays low
        up = r.randrange(DAY // 4, DAY)
        for j in range(s, min(n, s + up)):
            x[j] += 6 * sd * (j - s) / up
        drop = r.uniform(6, 10) * sd
        for j in range(min(n, s + up), n):
            x[j] -= drop
        return min(n - 1, s + up)
    if what in ("level_drop", "level_change", "level_shift", "jump"):
        d = r.choice([-1, 1]) * r.uniform(3, 6) * sd
        if what == "level_drop":
            d = -abs(d)
        end = n if what in ("level_change", "level_drop") else min(n, s + r.randrange(DAY // 2, 3 * DAY))
        for j in range(s, end):
            x[j] += d
        return end - 1
    if what == "spike":
        x[s] += r.choice([-1, 1]) * r.uniform(6, 10) * sd
        return s
    if what in ("noise_change", "noise_burst"):
        end = min(n, s + r.randrange(DAY // 8, DAY))
        for j in range(s, end):
            x[j] = mean + (x[j] - mean) + r.gauss(0, r.uniform(3, 5) * sd)
        return end - 1
    if what == "runaway":
        end = min(n, s + r.randrange(DAY // 4, DAY))
        for j in range(s, end):
            x[j] = min(100.0, x[j] + 60 * (j - s) / (end - s))
        return end - 1
    if what in ("pattern_gone", "flat"):  # a day without its cycle
        end = min(n, s + DAY)
        for j in range(s, end):
            x[j] = mean + r.gauss(0, (0.1 if what == "flat" else 0.3) * sd)
        return end - 1
    if what == "pattern_shift":  # the day's pattern comes hours late
        end = min(n, s + DAY)
        lag = r.randrange(DAY // 6, DAY // 3)
        seg = x[s - lag:end - lag]
        x[s:end] = seg
        return end - 1
    if what == "drop":
        end = min(n, s + r.randrange(DAY // 24, DAY // 4))
        for j in range(s, end):
            x[j] *= r.uniform(0.2, 0.4)
        return end - 1
    if what == "burst":
        end = min(n, s + r.randrange(DAY // 24, DAY // 6))
        f = r.uniform(3, 6)
        for j in range(s, end):
            x[j] = poisson(r, max(1.0, x[j]) * f)
        return end - 1
    if what == "silence":
        end = min(n, s + r.randrange(DAY // 12, DAY // 2))
        for j in range(s, end):
            x[j] = 0
        return end - 1
    if what == "stuck":
        end = min(n, s + r.randrange(DAY // 6, 2 * DAY))
        for j in range(s, end):
            x[j] = x[s]
        return end - 1
    if what == "dropout":
        end = min(n, s + r.randrange(6, DAY // 6))
        for j in range(s, end):
            x[j] = 0.0
        return end - 1
    if what == "amplitude":
        end = min(n, s + r.randrange(DAY, 3 * DAY))
        f = r.choice([0.3, 2.0])
        for j in range(s, end):
            x[j] = mean + f * (x[j] - mean)
        return end - 1
    if what == "frequency":
        end = min(n, s + r.randrange(DAY, 2 * DAY))
        amp = sd * math.sqrt(2)
        for j in range(s, end):
            x[j] = mean + amp * math.sin(2 * math.pi * 3 * (j % DAY) / DAY) + r.gauss(0, 0.5)
        return end - 1
    raise ValueError(what)


def make(kind, idx, r):
    n = r.randrange(4000, 16001)
    x = base_series(kind, n, r)
    k = r.choice([1, 1, 2, 2, 3])
    prob = int(0.15 * n)
    wlen = max(1, int(0.10 * n / k))
    # anomaly starts spread over the scored part, each window inside the series
    lo, hi = prob + wlen // 2 + DAY, n - wlen // 2 - 1
    starts = sorted(r.sample(range(lo, hi), k)) if hi - lo > k else [lo]
    picked = []
    for s in starts:
        if picked and s - picked[-1] < wlen + DAY:
            continue
        picked.append(s)
    events = []
    for s in picked:
        what = r.choice(ANOMALIES[kind])
        if what in ("level_change", "level_drop", "failure") and s != picked[-1]:
            what = "spike" if kind == "machine" else r.choice(["noise_change", "runaway"]) \
                if kind == "cpu" else what
        end = inject(kind, what, x, s, r)
        events.append((what, s, end))
    wins = [(max(0, s - wlen // 2), min(n - 1, s - wlen // 2 + wlen - 1)) for _, s, _ in events]
    return n, x, events, wins


def fmt_ts(t0, i):
    return (t0 + timedelta(seconds=STEP * i)).strftime("%Y-%m-%d %H:%M:%S")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--series", type=int, default=24)
    a = ap.parse_args()
    r = random.Random(a.seed)
    labels, truth = {}, []
    for idx in range(a.series):
        kind = KINDS[idx % len(KINDS)]
        n, x, events, wins = make(kind, idx, r)
        t0 = datetime(2014, 1, 1, tzinfo=timezone.utc) + timedelta(days=r.randrange(300))
        key = "%s/%s_%d.csv" % (kind, kind, idx)
        path = os.path.join(a.out, "data", key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value"])
            for i, v in enumerate(x):
                w.writerow([fmt_ts(t0, i), ("%d" % v) if kind == "tweets" else "%.4f" % v])
        labels[key] = [[fmt_ts(t0, s) + ".000000", fmt_ts(t0, e) + ".000000"] for s, e in wins]
        for (what, s, e), _ in zip(events, wins):
            truth.append([key, what, fmt_ts(t0, s), fmt_ts(t0, e)])
    with open(os.path.join(a.out, "combined_windows.json"), "w") as f:
        json.dump(labels, f, indent=4, sort_keys=True)
    with open(os.path.join(a.out, "anomalies.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "kind", "start", "end"])
        w.writerows(truth)


if __name__ == "__main__":
    main()
