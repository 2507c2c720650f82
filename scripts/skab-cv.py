#!/usr/bin/env python3
"""Leave-one-folder-out selection of `iotad eval` settings on SKAB.

Each configuration of the grid is run over valve1, valve2 and other
(`--json --no-time`) once per training seed; the per-file counts are summed
per folder and over the seeds, so a setting is judged by what it does on
average, not by one lucky initialisation. For each
held-out folder the configuration with the best F1 - max(0, FAR - 12 %) on
the other two folders is applied to it; the held-out counts summed give the
cross-validated figure. Labels of a folder never choose its own settings.

usage: scripts/skab-cv.py [--iotad BIN] [--skab DIR] [--seeds LIST] [--cache FILE] [--jobs N]
"""
import argparse
import itertools
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

FOLDERS = ("valve1", "valve2", "other")
FAR_TARGET = 0.12


def config(window, holdout, batch, epochs, alpha, m, drift="4", k="1", n="1", pct="100"):
    name = f"w{window} h{holdout} b{batch} e{epochs} ewma {alpha} k{k}n{n}m{m} drift {drift} p{pct}"
    return name, ["--window", window, "--holdout", holdout, "--batch", batch,
                  "--epochs", epochs, "--score-alpha", alpha, "--k", k, "--n", n, "--m", m,
                  "--drift-max", drift, "--threshold", "adaptive", "--percentile", pct]


def grid():
    """Label-free settings only: no feature named by hand. Every option is
    spelled out, so the layout's own defaults do not matter."""
    yield config("10", "0.2", "32", "30", "0", "5", "0", "3", "3", "99")  # generic defaults
    for window, holdout, batch, epochs, alpha, m in itertools.product(
            ("5", "7", "10"), ("0.2", "0.25", "0.3"), ("16", "32"), ("30", "60"),
            ("0.1", "0.2"), ("1", "2")):
        yield config(window, holdout, batch, epochs, alpha, m)


def run(iotad, skab, args, seed):
    cmd = [iotad, "eval", "-q", "--no-time", "--json", "--layout", "skab", "--seed", seed]
    cmd += args + [os.path.join(skab, f) for f in FOLDERS]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    per = {f: [0, 0, 0, 0] for f in FOLDERS}
    for item in json.loads(out)["files"]:
        folder = os.path.basename(os.path.dirname(item["file"]))
        a = item["alert"]
        for i, k in enumerate(("tp", "fp", "fn", "tn")):
            per[folder][i] += a[k]
    return per


def rates(c):
    tp, fp, fn, tn = c
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    far = fp / (fp + tn) if fp + tn else 0.0
    mar = fn / (fn + tp) if fn + tp else 0.0
    return f1, far, mar


def add(*cs):
    return [sum(x) for x in zip(*cs)]


def merit(c):
    f1, far, _ = rates(c)
    return f1 - max(0.0, far - FAR_TARGET)


def fmt(c):
    f1, far, mar = rates(c)
    return f"F1 {f1:.3f}  FAR {100 * far:5.2f} %  MAR {100 * mar:5.2f} %"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iotad", default=os.path.join(here, "..", "build", "src", "iotad"))
    ap.add_argument("--skab", default=os.path.join(here, "..", "..", "shared", "datasets",
                                                   "skab"))
    ap.add_argument("--seeds", default="1,2,42",
                    help="training seeds; a configuration's counts are summed over them")
    ap.add_argument("--cache", help="JSON file of results to reuse and extend")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    o = ap.parse_args()
    seeds = o.seeds.split(",")
    cache = {}
    if o.cache and os.path.exists(o.cache):
        with open(o.cache) as f:
            cache = json.load(f)
    todo = [(f"{n} seed {s}", a, s) for n, a in grid() for s in seeds
            if f"{n} seed {s}" not in cache]
    with ThreadPoolExecutor(o.jobs) as ex:
        for (key, _, _), per in zip(todo, ex.map(lambda t: run(o.iotad, o.skab, t[1], t[2]),
                                                 todo)):
            cache[key] = per
            print(f"{key:60s} {fmt(add(*per.values()))}", file=sys.stderr, flush=True)
            if o.cache:
                with open(o.cache, "w") as f:
                    json.dump(cache, f, indent=1)
    names = [n for n, _ in grid()]
    # counts of a configuration in a folder, summed over the seeds
    res = {n: {f: add(*(cache[f"{n} seed {s}"][f] for s in seeds)) for f in FOLDERS}
           for n in names}
    held = []
    for out in FOLDERS:
        best = max(names, key=lambda n: merit(add(*(res[n][f] for f in FOLDERS if f != out))))
        held.append(res[best][out])
        print(f"held out {out:7s}: chose {best:50s} -> {fmt(res[best][out])}")
    print(f"leave-one-folder-out (seeds {o.seeds}): {fmt(add(*held))}")
    best = max(names, key=lambda n: merit(add(*res[n].values())))
    print(f"chosen on all folders: {best} -> {fmt(add(*res[best].values()))}")
    print("top 10 on all folders:")
    for n in sorted(names, key=lambda n: -merit(add(*res[n].values())))[:10]:
        print(f"  {n:50s} {fmt(add(*res[n].values()))}")


if __name__ == "__main__":
    main()
