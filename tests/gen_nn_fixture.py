#!/usr/bin/python3
"""Generate tests/fixtures/nn_reference.json, the PyTorch reference for nn.c.

The seed autoencoder 20 -> 12 -> 6 -> 12 -> 20 (ReLU hidden layers, sigmoid
output) is built in float32 with seeded weights. For a small batch of inputs
in [0, 1] the fixture records: the flat parameters in iotad's layout (per
layer W[out][in] row-major then b[out]), per-sample outputs and MSE, the
batch-mean loss, its gradient w.r.t. every parameter (same layout), and the
parameters after 3 Adam steps (lr 1e-2, other settings at torch defaults) on
that batch.

Every float32 value is written as the exact decimal of its double widening,
so reading it with strtod and narrowing to float gives the same bits.

Usage: /usr/bin/python3 tests/gen_nn_fixture.py [OUTPUT]
"""
import json
import os
import sys

import torch

SIZES = [20, 12, 6, 12, 20]
ACTS = ["relu", "relu", "relu", "sigmoid"]
BATCH = 8
SEED = 1240
ADAM_LR = 1e-2
ADAM_STEPS = 3


def build_model():
    layers = []
    for i in range(len(SIZES) - 1):
        layers.append(torch.nn.Linear(SIZES[i], SIZES[i + 1]))
        layers.append(torch.nn.ReLU() if ACTS[i] == "relu" else torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers)


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def flat_params(model):
    out = []
    for lin in linears(model):
        out += lin.weight.detach().reshape(-1).tolist()
        out += lin.bias.detach().reshape(-1).tolist()
    return out


def flat_grads(model):
    out = []
    for lin in linears(model):
        out += lin.weight.grad.reshape(-1).tolist()
        out += lin.bias.grad.reshape(-1).tolist()
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "fixtures", "nn_reference.json")
    torch.manual_seed(SEED)
    model = build_model().float()
    # Inputs in [0, 1] as the min-max normalised windows the scorer sees.
    x = torch.rand(BATCH, SIZES[0], dtype=torch.float32)

    params0 = flat_params(model)

    # Per-sample forward pass.
    with torch.no_grad():
        y = model(x)
        mse = ((y - x) ** 2).mean(dim=1)

    # Gradient of the batch-mean loss (mean over every element of the batch,
    # which equals the mean of the per-sample MSE since all have D elements).
    model.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), x)
    loss.backward()
    grad = flat_grads(model)

    # Adam from fresh state on the same batch.
    opt = torch.optim.Adam(model.parameters(), lr=ADAM_LR)
    for _ in range(ADAM_STEPS):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), x).backward()
        opt.step()
    params_adam = flat_params(model)

    doc = {
        "generator": "tests/gen_nn_fixture.py",
        "torch_version": torch.__version__,
        "dtype": "float32",
        "seed": SEED,
        "sizes": SIZES,
        "activations": ACTS,
        "n_params": len(params0),
        "params": params0,
        "inputs": x.tolist(),
        "outputs": y.tolist(),
        "mse": mse.tolist(),
        "loss": loss.item(),
        "grad": grad,
        "adam": {"lr": ADAM_LR, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
                 "steps": ADAM_STEPS, "params": params_adam},
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
