#!/usr/bin/python3
"""train_torch.py - PyTorch's side of bench/train_vs_torch.sh.

Trains the network bench_train describes in DIR (meta.txt) from the same
initial parameters (init.f32, nn layout: per layer W[out][in] then b[out])
on the same windows (windows.f32), with the same epochs, batch size and Adam
(lr 1e-3): the loss is the mean squared error over the batch, the epoch's
loss the mean over windows of each window's MSE before its step, as the C
trainer reports it. Each epoch takes the windows in the C trainer's order
(order.u32), so the two differ only by float rounding.
Prints one RESULT line: seconds per epoch (wall and process CPU) and losses.
Bench time only: never run by the product.

usage: train_torch.py --dir DIR [--threads N]
"""
import argparse
import time

import numpy as np
import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(5)

    meta = {}
    with open(f"{args.dir}/meta.txt") as f:
        for line in f:
            k, *v = line.split()
            meta[k] = v
    d = int(meta["d"][0])
    hidden = [int(h) for h in meta["hidden"]]
    n = int(meta["windows"][0])
    epochs = int(meta["epochs"][0])
    batch = int(meta["batch"][0])
    lr = float(meta["lr"][0])

    x = torch.from_numpy(np.fromfile(f"{args.dir}/windows.f32", dtype=np.float32).reshape(n, d))
    order = torch.from_numpy(
        np.fromfile(f"{args.dir}/order.u32", dtype=np.uint32).astype(np.int64).reshape(epochs, n))
    init = np.fromfile(f"{args.dir}/init.f32", dtype=np.float32)
    sizes = [d] + hidden + [d]
    layers = []
    off = 0
    for i in range(len(sizes) - 1):
        lin = torch.nn.Linear(sizes[i], sizes[i + 1])
        w = init[off:off + sizes[i + 1] * sizes[i]].reshape(sizes[i + 1], sizes[i])
        off += w.size
        b = init[off:off + sizes[i + 1]]
        off += b.size
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers.append(lin)
        layers.append(torch.nn.ReLU() if i < len(sizes) - 2 else torch.nn.Sigmoid())
    assert off == init.size, "init.f32 does not match the network"
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    loss_fn = torch.nn.MSELoss()

    first = final = None
    t0, c0 = time.perf_counter(), time.process_time()
    for ep in range(epochs):
        perm = order[ep]
        total = 0.0
        for b0 in range(0, n, batch):
            xb = x[perm[b0:b0 + batch]]
            opt.zero_grad()
            loss = loss_fn(net(xb), xb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        mean = total / n
        if ep == 0:
            first = mean
        final = mean
    t1, c1 = time.perf_counter(), time.process_time()
    print(f"PyTorch {torch.__version__}, {args.threads} thread(s): {(t1 - t0) / epochs:.4f} s/epoch "
          f"(CPU {(c1 - c0) / epochs:.4f} s), loss {first:.6g} -> {final:.6g}")
    print(f"RESULT train_torch threads={args.threads} s_per_epoch={(t1 - t0) / epochs:.6f} "
          f"cpu_per_epoch={(c1 - c0) / epochs:.6f} first_loss={first:.8g} final_loss={final:.8g}")


if __name__ == "__main__":
    main()
