#!/usr/bin/python3
"""Train a small autoencoder in PyTorch and export it as an iotad model.

The windows, normalization and scores are those of iotad: a window is W
consecutive samples, each min-max normalized per feature with the training
minimum and maximum and clamped to [-4, 5], flattened sample after sample
(W x F inputs); the score is the mean squared error of the reconstruction.
Layers are nn.Linear, whose weight layout [out][in] row-major is iotad's.

Data: a CSV file with a header row (--csv, columns picked by --features),
or without one a seeded synthetic series of temperature, humidity and
battery readings.

Usage:
  /usr/bin/python3 examples/torch_export.py --out model.json
  /usr/bin/python3 examples/torch_export.py --csv train.csv --sep , \\
      --features temperature,humidity --window 10 --out model.json
  iotad run -c iotad.yaml   # with detector.model: model.json

--scores FILE also writes PyTorch's scores of a few windows (raw samples
and score), which tests/test_torchrt.c compares with iotad's own forward pass.
"""
import argparse
import csv
import json
import math
import sys

import torch

CLAMP_LO, CLAMP_HI = -4.0, 5.0


def synthetic(n, seed):
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64)
    temp = 21.0 + 4.0 * torch.sin(2 * math.pi * t / 240.0) + 0.3 * torch.randn(n, generator=g, dtype=torch.float64)
    hum = 55.0 - 1.5 * (temp - 21.0) + 0.8 * torch.randn(n, generator=g, dtype=torch.float64)
    batt = 4.1 - 0.0002 * t + 0.01 * torch.randn(n, generator=g, dtype=torch.float64)
    return ["temperature", "humidity", "battery"], torch.stack([temp, hum, batt], dim=1)


def read_csv(path, sep, features):
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=sep))
    header, body = rows[0], [r for r in rows[1:] if r]
    cols = [header.index(c) for c in features]
    data = [[float(r[c]) for c in cols] for r in body]
    return features, torch.tensor(data, dtype=torch.float64)


def normalize(raw, lo, hi):
    """As iotad's model_normalize: in double, then clamped, then float32."""
    rng = hi - lo
    rng = torch.where(rng < 1e-12, torch.ones_like(rng), rng)
    return ((raw - lo) / rng).clamp(CLAMP_LO, CLAMP_HI).to(torch.float32)


def windows(x, w):
    return torch.stack([x[i:i + w].reshape(-1) for i in range(len(x) - w + 1)])


def build(d, hidden):
    sizes = [d] + hidden + [d]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[i], sizes[i + 1]))
        layers.append(torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def scores(net, x):
    with torch.no_grad():
        return ((net(x).double() - x.double()) ** 2).mean(dim=1)


def export(net, names, window, lo, hi, calib, percentile, model_id):
    layers = []
    mods = list(net)
    for i in range(0, len(mods), 2):
        lin, act = mods[i], mods[i + 1]
        layers.append({
            "in": lin.in_features, "out": lin.out_features,
            "activation": "relu" if isinstance(act, torch.nn.ReLU) else "sigmoid",
            # float32 values written as the decimal of their double: exact
            "weights": [float(v) for v in lin.weight.detach().reshape(-1).tolist()],
            "bias": [float(v) for v in lin.bias.detach().tolist()],
        })
    srt = sorted(float(s) for s in calib)
    k = max(0, min(len(srt) - 1, math.ceil(percentile / 100.0 * len(srt)) - 1))
    return {
        "format": "iotad-model", "format_version": 1, "id": model_id, "version": 1,
        "features": names, "window": window, "stride": 1,
        "normalization": {"kind": "minmax", "a": lo.tolist(), "b": hi.tolist()},
        "layers": layers,
        "threshold": {"value": srt[k], "percentile": percentile},
        "calibration": {"scores": srt},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--csv")
    ap.add_argument("--sep", default=",")
    ap.add_argument("--features", default="temperature,humidity,battery")
    ap.add_argument("--rows", type=int, default=2000, help="synthetic rows")
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--hidden", default="12,6,12")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--percentile", type=float, default=99.0)
    ap.add_argument("--id", default="torch-ae")
    ap.add_argument("--out", required=True)
    ap.add_argument("--scores", help="also write PyTorch's scores of a few windows here")
    a = ap.parse_args()

    torch.manual_seed(a.seed)
    if a.csv:
        names, raw = read_csv(a.csv, a.sep, a.features.split(","))
    else:
        names, raw = synthetic(a.rows, a.seed)
    cut = int(len(raw) * 0.8)
    lo = raw[:cut].min(dim=0).values.float().double()
    hi = raw[:cut].max(dim=0).values.float().double()
    x = normalize(raw, lo, hi)
    train, calib = windows(x[:cut], a.window), windows(x[cut:], a.window)
    d = a.window * len(names)
    net = build(d, [int(h) for h in a.hidden.split(",")])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for ep in range(a.epochs):
        perm = torch.randperm(len(train))
        total = 0.0
        for b in range(0, len(train), 32):
            batch = train[perm[b:b + 32]]
            loss = ((net(batch) - batch) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss) * len(batch)
        print(f"epoch {ep + 1}/{a.epochs}: loss {total / len(train):.6g}", file=sys.stderr)

    model = export(net, names, a.window, lo, hi, scores(net, calib), a.percentile, a.id)
    with open(a.out, "w") as f:
        json.dump(model, f)
        f.write("\n")
    if a.scores:
        # a few normal windows and one with a spike far outside the training range
        raws = [raw[i:i + a.window].clone() for i in (0, cut // 2, cut, len(raw) - a.window)]
        spike = raw[cut:cut + a.window].clone()
        spike[a.window // 2, 0] += 40.0
        raws.append(spike)
        cases = []
        for r in raws:
            r = r.float().double()  # the values as iotad reads them
            s = scores(net, normalize(r, lo, hi).reshape(1, -1))[0]
            cases.append({"raw": r.tolist(), "score": float(s)})
        with open(a.scores, "w") as f:
            json.dump({"model": a.out.rsplit("/", 1)[-1], "windows": cases}, f, indent=1)
            f.write("\n")
    print(f"wrote {a.out}: {len(names)} features, window {a.window}, "
          f"threshold {model['threshold']['value']:.6g}", file=sys.stderr)


if __name__ == "__main__":
    main()
