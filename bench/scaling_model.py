#!/usr/bin/env python3
"""bench/scaling_model.py — the cost model of docs/SCALING.md: where one sharded optimizer step
(optcl_mpi, ZeRO stage 1) spends its time per rank, for N parameters on K ranks.

Every term is bytes / bandwidth or messages x latency; the constants below are stated in
docs/SCALING.md with their sources. Prints the table of the document (milliseconds).

    python3 bench/scaling_model.py [--reduce double|float] [--alpha-us 2] [--n 1e8 1e9]
"""
import argparse
import math

GB = 1e9


def step_ms(n, k, reduce_bytes, alpha, net, pcie, host, hbm, rule_bytes=28):
    """The per-rank phases of one step in milliseconds (collectives: the MPI library's)."""
    share = (k - 1) / k
    t = {}
    # Device <-> host: the whole gradient out and the whole model in, plus the shard both ways.
    t["pcie"] = 8 * n * (1 + 1 / k) / pcie
    # Host passes, memory-bound, one thread: float -> reduction type (4 + b bytes per element,
    # none for unweighted floats), the reduction's additions of (K-1)/K of the buffer (read two
    # operands, write one), averaging the shard (b + 4 + 4 for the sum of squares).
    convert = (4 + reduce_bytes) if reduce_bytes == 8 else 0
    t["host"] = n * (convert + share * 3 * reduce_bytes + (reduce_bytes + 8) / k) / host
    # Network, bandwidth-optimal collectives: (K-1)/K of the buffer each way per collective.
    t["network"] = share * n * (reduce_bytes + 4) / net
    # Latency: reduce-scatter and all-gather by recursive halving/doubling (log2 K rounds each),
    # plus three small collectives per step (guard exchange, agreement, a weighted step's sum).
    t["latency"] = 5 * math.ceil(math.log2(k)) * alpha if k > 1 else 0.0
    # The update itself on the device: Adam reads and writes 28 bytes per parameter of the shard.
    t["update"] = rule_bytes * n / k / hbm
    t["total"] = sum(t.values())
    return {key: value * 1e3 for key, value in t.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reduce", choices=["double", "float"], default="double")
    ap.add_argument("--alpha-us", type=float, default=2.0, help="latency per message (us)")
    ap.add_argument("--net-gbps", type=float, default=100.0, help="link rate (Gb/s)")
    ap.add_argument("--n", type=float, nargs="+", default=[1e8, 1e9])
    ap.add_argument("--ranks", type=int, nargs="+", default=[8, 64, 512])
    a = ap.parse_args()
    b = 8 if a.reduce == "double" else 4
    net = a.net_gbps / 8 * GB * 0.9  # 90 % of the line rate reaches the application
    params = dict(alpha=a.alpha_us * 1e-6, net=net, pcie=25 * GB, host=15 * GB, hbm=4.2e12)
    cols = ["pcie", "host", "network", "latency", "update", "total"]
    print(f"reduce={a.reduce}, alpha={a.alpha_us} us, network {a.net_gbps:g} Gb/s "
          f"({net / GB:.2f} GB/s), PCIe 25 GB/s, host 15 GB/s, HBM 4.2 TB/s; ms per step")
    print("| N | K | " + " | ".join(cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for n in a.n:
        for k in a.ranks:
            t = step_ms(n, k, b, **params)
            print(f"| {n:.0e} | {k} | " + " | ".join(f"{t[c]:.3g}" for c in cols) + " |")


if __name__ == "__main__":
    main()
