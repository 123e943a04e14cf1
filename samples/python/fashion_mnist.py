"""Trains an MLP 784-256-10 on Fashion-MNIST with torch for the forward and backward passes and
optcl.torch.Adam for the optimizer steps, on optcl's default OpenCL device (OPTCL_DEVICE picks
another, "reference" the host backend), and prints the epoch table of the C sample
(samples/fashion_mnist). Data: Debian's dataset-fashion-mnist (scripts/deps installs it).

    python samples/python/fashion_mnist.py [--epochs 10] [--batch 128] [--lr 1e-3]
                                           [--device reference] [--limit N] [--data DIR]"""
import argparse
import gzip
import os
import struct
import time

import numpy as np
import torch

import optcl
import optcl.torch

DATA = os.environ.get("OPTCL_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


def idx(path):
    """An IDX file (gzip) as a uint8 array of its shape."""
    with gzip.open(path, "rb") as f:
        zero, kind, ndim = struct.unpack(">HBB", f.read(4))
        if zero != 0 or kind != 0x08:
            raise ValueError(f"{path}: not an IDX file of unsigned bytes")
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(shape)


def load(data, limit, seed):
    x = idx(os.path.join(data, "train-images-idx3-ubyte.gz")).reshape(-1, 784)
    y = idx(os.path.join(data, "train-labels-idx1-ubyte.gz"))
    xt = idx(os.path.join(data, "t10k-images-idx3-ubyte.gz")).reshape(-1, 784)
    yt = idx(os.path.join(data, "t10k-labels-idx1-ubyte.gz"))
    order = np.random.default_rng(seed).permutation(len(x))
    train, valid = order[:55000], order[55000:]
    if limit:
        train, valid, xt, yt = train[:limit], valid[:limit // 10 or 1], xt[:limit], yt[:limit]
    mean = x[train].mean() / 255.0
    std = x[train].std() / 255.0

    def tensor(images, labels):
        t = (torch.from_numpy(images.astype(np.float32)) / 255.0 - mean) / std
        return t, torch.from_numpy(labels.astype(np.int64))

    print(f"data: {data}: {len(train)} train, {len(valid)} valid (split seed {seed}), "
          f"{len(xt)} test; pixels normalised with mean {mean:.4f}, std {std:.4f}")
    return tensor(x[train], y[train]), tensor(x[valid], y[valid]), tensor(xt, yt)


def evaluate(model, data):
    x, y = data
    with torch.no_grad():
        out = model(x)
        return torch.nn.functional.cross_entropy(out, y).item(), \
            (out.argmax(1) == y).float().mean().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--device", default=None, help="optcl's device (default: OPTCL_DEVICE, "
                    "else the first GPU, else the first device); 'reference': the host")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    ap.add_argument("--data", default=DATA)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    train, valid, test = load(args.data, args.limit, args.seed)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    opt = optcl.torch.Adam(model.parameters(), lr=args.lr, device=args.device)
    print(f"device: {opt.context.device_name}")
    steps = (len(train[0]) + args.batch - 1) // args.batch
    params = sum(p.numel() for p in model.parameters())
    print(f"model: MLP 784-256-10 ({params} parameters), adam lr={args.lr:g}, minibatch, "
          f"batch {args.batch} ({steps} steps per epoch); optcl {optcl.version()}")
    print("epoch  train loss  valid loss  valid acc      gap         lr       s")
    best = (-1.0, 0)
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        order = torch.randperm(len(train[0]))
        total = 0.0
        for k in range(steps):
            rows = order[k * args.batch:(k + 1) * args.batch]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(train[0][rows]), train[1][rows])
            loss.backward()
            opt.step()
            total += loss.item() * len(rows)
        train_loss = total / len(train[0])
        valid_loss, valid_acc = evaluate(model, valid)
        mark = ""
        if valid_acc > best[0]:
            best, mark = (valid_acc, epoch), "  *"
        print(f"{epoch:5d}  {train_loss:10.4f}  {valid_loss:10.4f}  {valid_acc:9.4f}  "
              f"{valid_loss - train_loss:+9.4f}  {opt.param_groups[0]['lr']:9.3e}  "
              f"{time.perf_counter() - started:6.2f}{mark}", flush=True)
    test_loss, test_acc = evaluate(model, test)
    print(f"test accuracy (last epoch) {test_acc:.4f} (loss {test_loss:.4f}); best valid "
          f"accuracy {best[0]:.4f} at epoch {best[1]}")


if __name__ == "__main__":
    main()
