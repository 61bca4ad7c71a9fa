"""Reproduce the clockwork-RNN paper's sequence-generation comparison (Koutník et al. 2014, §4.1).

A network that receives no input must generate a fixed 320-step target signal from its own dynamics;
its weights are, in effect, a lossy encoding of the sequence. Three networks of about 1,000
parameters are compared (the paper's "1000 parameters" column):

* SRN: an Elman network of 31 tanh units (``torch.nn.RNN``),
* LSTM: 15 cells (``torch.nn.LSTM``),
* CW-RNN: 40 tanh units in 9 modules with periods 1, 2, 4, ..., 256 (``nets.clockwork``),

each followed by one linear output unit. Every network is trained on the whole sequence (one
gradient step per epoch, mean squared error) from N(0, 0.1^2) weights, over several seeds, with SGD
plus Nesterov momentum (the paper's optimiser, momentum 0.95) and with Adam as a second setting.
The learning rates are this script's choices, the best of a short sweep on seed 0 over 400 epochs
(SGD, CW-RNN: 3e-5, 1e-4, 3e-4 diverged; SRN: 1e-4, 3e-4; LSTM: 3e-4, 1e-3, 3e-3 and 1e-2 diverged;
Adam: 1e-3, 1e-2); the paper's own values could not be checked offline when this was written. The score is the
normalised MSE, ``NMSE = mean((y - target)^2) / var(target)``. The paper reports SRN 0.46 ± 0.08,
LSTM 0.04 ± 0.01, CW-RNN 0.007 ± 0.004.

The target is generated deterministically (``target_signal``): a short melody of five plucked notes,
each a fundamental with two harmonics under a decaying envelope, over a slow swell, scaled to
[-1, 1]. It has both fast (periods of 9-20 samples) and slow (the whole 320 steps) structure, like the
paper's audio snippet.

Usage::

    python -m experiments.studies.cwrnn_sequence              # defaults (5 seeds, 800 epochs, both optimisers)
    python -m experiments.studies.cwrnn_sequence --quick      # 2 seeds, 200 epochs: a smoke run
    python -m experiments.studies.cwrnn_sequence --seeds 10 --epochs 4000 --optimizers sgd

Prints a table and ends with one JSON line; writes the plot to ``runs/cwrnn_sequence/``
(``--plot docs/cwrnn_sequence.png`` regenerates the one in the docs).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

PAPER_NMSE = {"SRN": (0.46, 0.08), "LSTM": (0.04, 0.01), "CW-RNN": (0.007, 0.004)}


@dataclass
class Config:
    """Settings of the reproduction (each field is a CLI flag)."""

    seeds: int = 5  # independent runs per network and optimiser (the paper used 5)
    epochs: int = 800  # full-sequence gradient steps per run (the paper trained longer)
    length: int = 320  # steps of the target sequence
    srn_units: int = 31  # SRN hidden units (~1,000 parameters)
    lstm_units: int = 15  # LSTM cells (~1,000 parameters)
    cw_units: int = 40  # CW-RNN hidden units, split as evenly as possible over the modules
    cw_modules: int = 9  # CW-RNN modules, periods 1, 2, 4, ..., 2^(cw_modules - 1)
    init_std: float = 0.1  # weights ~ N(0, init_std^2), as in the paper
    momentum: float = 0.95  # Nesterov momentum for SGD
    lr_srn: float = 1e-4  # SGD learning rate of the SRN (summed squared error)
    lr_lstm: float = 1e-3  # SGD learning rate of the LSTM
    lr_cw: float = 1e-4  # SGD learning rate of the CW-RNN
    adam_lr: float = 1e-2  # Adam's learning rate (all networks)
    clip_norm: float = 0.0  # gradient-norm clipping; 0 = off (as in the paper)
    optimizers: str = "sgd,adam"  # which settings to run, comma-separated
    threads: int = 1  # torch threads (small networks: 1 is fastest)
    plot: str = "runs/cwrnn_sequence/cwrnn_sequence.png"  # where to write the plot ('' = none)
    quick: bool = False  # smoke run: 2 seeds, 200 epochs


def target_signal(length: int = 320) -> np.ndarray:
    """The deterministic music-like target, float32 in [-1, 1]."""
    t = np.arange(length, dtype=np.float64)
    periods = (16.0, 12.0, 20.0, 9.0, 14.0)  # one note per fifth of the sequence
    note_len = length / len(periods)
    y = np.zeros(length)
    for i, p in enumerate(periods):
        start = i * note_len
        tau = np.clip(t - start, 0.0, None)
        env = np.where(t >= start, np.exp(-tau / (0.45 * note_len)), 0.0)
        tone = np.sin(2 * np.pi * tau / p) + 0.5 * np.sin(4 * np.pi * tau / p + 0.3) + 0.25 * np.sin(
            6 * np.pi * tau / p + 1.1
        )
        y += env * tone
    y += 0.6 * np.sin(2 * np.pi * t / length - 0.5)  # slow swell under the notes
    y = y - y.mean()
    return (y / np.abs(y).max()).astype(np.float32)


def split_units(units: int, modules: int) -> list[int]:
    """Split ``units`` over ``modules`` as evenly as possible, larger modules first (fastest)."""
    base, extra = divmod(units, modules)
    if base == 0:
        raise ValueError(f"cannot split {units} units over {modules} modules")
    return [base + (1 if i < extra else 0) for i in range(modules)]


def build(kind: str, cfg: Config, seed: int):
    """One of the three generators: (recurrent core) -> Linear(hidden, 1)."""
    import torch
    from torch import nn

    from nets.clockwork import ClockworkRNN, exponential_periods

    torch.manual_seed(seed)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            if kind == "SRN":
                self.core, width = nn.RNN(1, cfg.srn_units, batch_first=True), cfg.srn_units
            elif kind == "LSTM":
                self.core, width = nn.LSTM(1, cfg.lstm_units, batch_first=True), cfg.lstm_units
            elif kind == "CW-RNN":
                sizes = split_units(cfg.cw_units, cfg.cw_modules)
                self.core = ClockworkRNN(0, sizes, exponential_periods(cfg.cw_modules))
                width = cfg.cw_units
            else:
                raise ValueError(kind)
            self.out = nn.Linear(width, 1)
            with torch.no_grad():
                for p in self.parameters():
                    p.normal_(0.0, cfg.init_std)

        def forward(self, length: int) -> torch.Tensor:
            width = 0 if kind == "CW-RNN" else 1  # no input: zeros (the SRN/LSTM input weights idle)
            x = torch.zeros(1, length, width)
            h, _ = self.core(x)
            return self.out(h)[0, :, 0]

    return Generator()


def effective_params(model, kind: str) -> int:
    """Parameters that can influence the output (the idle input weights and torch's duplicate
    recurrent bias excluded)."""
    total = sum(p.numel() for p in model.parameters())
    if kind in ("SRN", "LSTM"):
        core = model.core
        total -= core.weight_ih_l0.numel() + core.bias_hh_l0.numel()
    return total


def train_one(kind: str, opt_name: str, seed: int, cfg: Config, target) -> tuple[float, np.ndarray]:
    """Train one network; return its final NMSE and generated signal."""
    import torch

    model = build(kind, cfg, seed)
    if opt_name == "sgd":
        lr = {"SRN": cfg.lr_srn, "LSTM": cfg.lr_lstm, "CW-RNN": cfg.lr_cw}[kind]
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum, nesterov=True)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.adam_lr)
    var = target.var()
    for _ in range(cfg.epochs):
        opt.zero_grad(set_to_none=True)
        err = model(cfg.length) - target
        loss = err.pow(2).sum()  # summed squared error over the sequence, as in BPTT of the era
        loss.backward()
        if cfg.clip_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
        opt.step()
    with torch.no_grad():
        y = model(cfg.length)
        nmse = float(((y - target) ** 2).mean() / var)
    return (nmse if math.isfinite(nmse) else float("nan")), y.numpy()


def save_plot(path: Path, target: np.ndarray, best: dict, title: str) -> None:
    """One panel per (network, optimiser): the target and the best seed's generated signal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = sorted({k for k, _ in best}, key=["SRN", "LSTM", "CW-RNN"].index)
    opts = list(dict.fromkeys(o for _, o in best))
    fig, axes = plt.subplots(len(kinds), len(opts), figsize=(5 * len(opts), 1.7 * len(kinds)),
                             sharex=True, squeeze=False)
    for r, kind in enumerate(kinds):
        for c, opt_name in enumerate(opts):
            ax = axes[r][c]
            nmse, y = best[(kind, opt_name)]
            ax.plot(target, color="0.6", lw=2.0, label="target")
            ax.plot(y, color="C3", lw=1.0, label=f"{kind}, {opt_name.upper()} (NMSE {nmse:.3g})")
            ax.legend(loc="upper right", fontsize=7)
            ax.set_ylim(-1.3, 1.3)
    for ax in axes[-1]:
        ax.set_xlabel("time step")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    from envs.fileio import atomic_save

    atomic_save(path, lambda tmp: fig.savefig(tmp, dpi=72), suffix=".png")
    plt.close(fig)


def _cell(arr: np.ndarray) -> str:
    """'mean ± std' over the finite runs, naming any run that diverged (NaN/inf)."""
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return f"diverged {arr.size}/{arr.size}"
    text = f"{finite.mean():.4f} ± {finite.std():.4f}"
    return text + (f" ({arr.size - finite.size}/{arr.size} diverged)" if finite.size < arr.size else "")


def _finite_mean(arr: np.ndarray) -> float:
    finite = arr[np.isfinite(arr)]
    return float(finite.mean()) if finite.size else float("inf")


def parse_args(argv=None) -> Config:
    from experiments.options import add_config_args, config_from_args

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_config_args(parser, Config)
    cfg = config_from_args(Config, parser.parse_args(argv))
    if cfg.quick:
        cfg.seeds, cfg.epochs = min(cfg.seeds, 2), min(cfg.epochs, 200)
    bad = set(cfg.optimizers.split(",")) - {"sgd", "adam"}
    if bad or cfg.seeds < 1 or cfg.epochs < 1:
        parser.error(f"--optimizers takes sgd and/or adam (got {sorted(bad)}); --seeds/--epochs must be >= 1")
    return cfg


def main(argv=None) -> int:
    cfg = parse_args(argv)
    import torch

    from nets.device import set_threads

    set_threads(cfg.threads)
    target_np = target_signal(cfg.length)
    target = torch.from_numpy(target_np)
    kinds = ("SRN", "LSTM", "CW-RNN")
    optimizers = cfg.optimizers.split(",")

    # ---- parameter budget
    params = {k: effective_params(build(k, cfg, 0), k) for k in kinds}
    print("parameters (effective):", ", ".join(f"{k} {v}" for k, v in params.items()))

    # ---- training
    results: dict = {}
    start = time.perf_counter()
    for opt_name in optimizers:
        for kind in kinds:
            scores, signals = [], []
            t0 = time.perf_counter()
            for seed in range(cfg.seeds):
                nmse, y = train_one(kind, opt_name, seed, cfg, target)
                scores.append(nmse)
                signals.append(y)
            arr = np.array(scores)
            results[(opt_name, kind)] = (arr, signals)
            print(
                f"{opt_name:>4} {kind:>6}: NMSE {_cell(arr)}  "
                f"runs {np.array2string(arr, precision=4)}  ({time.perf_counter() - t0:.0f} s)",
                flush=True,
            )
    elapsed = time.perf_counter() - start

    # ---- report
    print()
    print(f"| network | units | params | {' | '.join(f'NMSE {o.upper()} (mean ± std)' for o in optimizers)} "
          f"| paper |")
    print("|---|---|---|" + "---|" * len(optimizers) + "---|")
    units = {"SRN": cfg.srn_units, "LSTM": cfg.lstm_units, "CW-RNN": cfg.cw_units}
    for kind in kinds:
        cells = [_cell(results[(o, kind)][0]) for o in optimizers]
        paper = PAPER_NMSE[kind]
        print(f"| {kind} | {units[kind]} | {params[kind]} | {' | '.join(cells)} | {paper[0]} ± {paper[1]} |")
    print(f"\n{cfg.seeds} seeds, {cfg.epochs} epochs, {elapsed:.0f} s in total")

    if cfg.plot:
        best = {}
        for opt_name in optimizers:
            for kind in kinds:
                arr, signals = results[(opt_name, kind)]
                i = int(np.argmin(np.where(np.isfinite(arr), arr, np.inf)))
                best[(kind, opt_name)] = (arr[i], signals[i])
        plot_path = Path(cfg.plot)
        save_plot(plot_path, target_np, best,
                  f"best of {cfg.seeds} seeds per panel, {cfg.epochs} epochs")
        print(f"plot: {plot_path}")

    figures = {
        "seeds": cfg.seeds,
        "epochs": cfg.epochs,
        "seconds": round(elapsed, 1),
        "params": params,
    }
    for (opt_name, kind), (arr, _) in results.items():
        finite = arr[np.isfinite(arr)]
        figures[f"nmse_{opt_name}_{kind}"] = {
            "mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std()) if finite.size else None,
            "diverged": int(arr.size - finite.size),
            "runs": [float(v) if np.isfinite(v) else None for v in arr],
        }
    for opt_name in optimizers:
        m = {k: _finite_mean(results[(opt_name, k)][0]) for k in kinds}
        figures[f"ordering_holds_{opt_name}"] = bool(m["CW-RNN"] < m["LSTM"] < m["SRN"])
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
