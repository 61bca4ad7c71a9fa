"""Speed of the clockwork RNN against torch.nn.RNN (same neurons) and torch.nn.LSTM (same hidden units).

For hidden sizes 128, 512 and 1024, batch 1 and 64, a 256-step sequence of 64 inputs on the CPU, it
times the forward pass (no autograd) and forward+backward (sum of outputs, ``backward()``) and reports
microseconds per step (the best of ``--reps`` interleaved rounds). The CW-RNN has g = 8 modules of
n/8 units with periods 1, 2, ..., 128.

Theory (the paper's appendix): with periods 2^i an average step touches only the active prefix of
the rows, about 2n/g of them on average instead of n, so the recurrent multiply-adds fall by about
g/2 (``theory_macs_ratio`` below gives the exact figure for the schedule) and the whole step by at
least g/4. Target: at n = 1024, g = 8, batch 64, 256 steps, the CW-RNN forward pass >= 3x faster than
torch.nn.RNN.

Usage: ``python -m experiments.bench.cwrnn [--reps 5] [--threads 1] [--sizes 128,512,1024]``.
Prints a table, then one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from nets.clockwork import ClockworkRNN, active_prefix, exponential_periods

STEPS = 256
INPUT = 64
MODULES = 8


def theory_macs_ratio(n: int, g: int = MODULES, steps: int = STEPS) -> float:
    """Recurrent multiply-adds of an SRN over those the CW-RNN's active-prefix rows need."""
    periods = exponential_periods(g)
    rows = sum(n * active_prefix(t, periods) / g for t in range(steps))
    return n * steps / rows


def _time_interleaved(fns: dict, reps: int) -> dict[str, float]:
    """Best wall time of each callable over ``reps`` rounds; every round runs each callable once, so
    a burst of load from other processes hits all of them alike."""
    for fn in fns.values():
        fn()  # warm-up
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(reps):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def bench(n: int, batch: int, reps: int) -> dict[str, float]:
    torch.manual_seed(0)
    x = torch.randn(batch, STEPS, INPUT)
    nets = {
        "cwrnn": ClockworkRNN(INPUT, n // MODULES, exponential_periods(MODULES)),
        "rnn": torch.nn.RNN(INPUT, n, nonlinearity="tanh", batch_first=True),
        "lstm": torch.nn.LSTM(INPUT, n, batch_first=True),
    }

    def forward(net):
        def run():
            with torch.no_grad():
                net(x)
        return run

    def forward_backward(net):
        def run():
            net.zero_grad(set_to_none=True)
            out, _ = net(x)
            out.sum().backward()
        return run

    fns = {f"{name}_{mode}_us": make(net)
           for mode, make in (("fwd", forward), ("fwdbwd", forward_backward)) for name, net in nets.items()}
    return {key: seconds / STEPS * 1e6 for key, seconds in _time_interleaved(fns, reps).items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed rounds per case, best kept (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--sizes", default="128,512,1024", help="hidden sizes, comma-separated")
    parser.add_argument("--batches", default="1,64", help="batch sizes, comma-separated")
    args = parser.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        parser.error("--sizes and --batches take comma-separated integers, e.g. 128,512,1024")
    if any(s % MODULES for s in sizes):
        parser.error(f"every hidden size must be a multiple of {MODULES} (the number of modules)")
    from nets.device import set_threads

    set_threads(args.threads)

    print(f"CPU, {args.threads} thread(s), {STEPS} steps, input {INPUT}, CW-RNN g={MODULES} "
          f"(periods 1..{2 ** (MODULES - 1)}); microseconds per step, best of {args.reps}")
    header = ("n", "batch", "CW fwd", "RNN fwd", "LSTM fwd", "RNN/CW", "CW f+b", "RNN f+b", "LSTM f+b",
              "RNN/CW f+b", "MAC ratio")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    figures: dict = {"steps": STEPS, "modules": MODULES, "threads": args.threads, "cases": {}}
    for n in sizes:
        for batch in batches:
            r = bench(n, batch, args.reps)
            speed_f = r["rnn_fwd_us"] / r["cwrnn_fwd_us"]
            speed_fb = r["rnn_fwdbwd_us"] / r["cwrnn_fwdbwd_us"]
            macs = theory_macs_ratio(n)
            print(f"| {n} | {batch} | {r['cwrnn_fwd_us']:.1f} | {r['rnn_fwd_us']:.1f} | "
                  f"{r['lstm_fwd_us']:.1f} | "
                  f"{speed_f:.2f}x | {r['cwrnn_fwdbwd_us']:.1f} | {r['rnn_fwdbwd_us']:.1f} | "
                  f"{r['lstm_fwdbwd_us']:.1f} | {speed_fb:.2f}x | {macs:.2f} |", flush=True)
            figures["cases"][f"n{n}_b{batch}"] = {
                **{k: round(v, 2) for k, v in r.items()},
                "speedup_fwd_vs_rnn": round(speed_f, 3),
                "speedup_fwdbwd_vs_rnn": round(speed_fb, 3),
                "speedup_fwd_vs_lstm": round(r["lstm_fwd_us"] / r["cwrnn_fwd_us"], 3),
                "theory_macs_ratio": round(macs, 3),
            }
    key = "n1024_b64"
    if key in figures["cases"]:
        figures["target_fwd_speedup_1024_b64"] = figures["cases"][key]["speedup_fwd_vs_rnn"]
        figures["target_met"] = figures["cases"][key]["speedup_fwd_vs_rnn"] >= 3.0
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
