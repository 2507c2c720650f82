#!/usr/bin/env python3
"""Leave-one-folder-out selection of `iotad eval` settings on SKAB.

Each configuration of the grid is run once over valve1, valve2 and other
(`--json --no-time`); the per-file counts are summed per folder. For each
held-out folder the configuration with the best F1 - max(0, FAR - 12 %) on
the other two folders is applied to it; the held-out counts summed give the
cross-validated figure. Labels of a folder never choose its own settings.

usage: scripts/skab-cv.py [--iotad BIN] [--skab DIR] [--cache FILE] [--jobs N]
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


THRESHOLDS = {
    "adaptive p99": ["--threshold", "adaptive", "--percentile", "99"],
    "adaptive p100": ["--threshold", "adaptive", "--percentile", "100"],
    "spot iq0.8": ["--threshold", "spot", "--threshold-init-quantile", "0.8"],
}


def config(drift, window, m, tname, alpha="0", k="3", n="3"):
    name = f"drift {drift} w{window} m{m} {tname}"
    if alpha != "0" or (k, n) != ("3", "3"):
        name += f" k{k}n{n} ewma {alpha}"
    return name, (["--drift-max", drift, "--window", window, "--k", k, "--n", n, "--m", m,
                   "--score-alpha", alpha] + THRESHOLDS[tname])


def grid():
    """Label-free settings only: no feature named by hand. Every option is
    spelled out, so the layout's own defaults do not matter."""
    yield config("0", "10", "5", "adaptive p99")  # the generic defaults
    yield config("0", "5", "2", "adaptive p99")
    for drift, window, m, tname in itertools.product(
            ("2", "3", "4", "6", "10"), ("5", "10"), ("1", "2"), THRESHOLDS):
        yield config(drift, window, m, tname)
    # score smoothing (EWMA weight of the newest window) with shorter debounce
    for alpha, window, (k, n), m, tname in itertools.product(
            ("0", "0.1", "0.15", "0.2", "0.3", "0.4", "0.6"), ("5", "7"),
            (("3", "3"), ("2", "3"), ("1", "1")), ("1", "2"), ("adaptive p99", "adaptive p100")):
        if (alpha, k, window) != ("0", "3", "5"):  # those are in the grid above
            yield config("4", window, m, tname, alpha, k, n)


def run(iotad, skab, args):
    cmd = [iotad, "eval", "-q", "--no-time", "--json", "--layout", "skab"] + args
    cmd += [os.path.join(skab, f) for f in FOLDERS]
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
    ap.add_argument("--cache", help="JSON file of results to reuse and extend")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    o = ap.parse_args()
    cache = {}
    if o.cache and os.path.exists(o.cache):
        with open(o.cache) as f:
            cache = json.load(f)
    todo = [(n, a) for n, a in grid() if n not in cache]
    with ThreadPoolExecutor(o.jobs) as ex:
        for (n, _), per in zip(todo, ex.map(lambda na: run(o.iotad, o.skab, na[1]), todo)):
            cache[n] = per
            print(f"{n:36s} {fmt(add(*per.values()))}", file=sys.stderr, flush=True)
            if o.cache:
                with open(o.cache, "w") as f:
                    json.dump(cache, f, indent=1)
    names = [n for n, _ in grid()]
    held = []
    for out in FOLDERS:
        best = max(names, key=lambda n: merit(add(*(cache[n][f] for f in FOLDERS if f != out))))
        held.append(cache[best][out])
        print(f"held out {out:7s}: chose {best:36s} -> {fmt(cache[best][out])}")
    print(f"leave-one-folder-out: {fmt(add(*held))}")
    best = max(names, key=lambda n: merit(add(*cache[n].values())))
    print(f"chosen on all folders: {best} -> {fmt(add(*cache[best].values()))}")
    print("top 10 on all folders:")
    for n in sorted(names, key=lambda n: -merit(add(*cache[n].values())))[:10]:
        print(f"  {n:36s} {fmt(add(*cache[n].values()))}")


if __name__ == "__main__":
    main()
