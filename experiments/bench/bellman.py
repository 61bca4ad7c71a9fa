"""Exact MDP solvers at game scale, side by side with quantecon and pymdptoolbox in the same run.

The problem is a game-like sparse MDP: states are cells of a square map (a torus), 5 actions (stay,
north, south, east, west), and each state-action pair has about 5 successors near its cell: the
intended cell with probability 0.5-0.9, the rest spread over random cells within 2 steps. Rewards are
a small random step cost, with +10 on 0.1% of the cells. Every solver is run to the same sup-norm
accuracy |V - V*| <= 1e-6, at gamma = 0.95 and 0.99, and its actual error is measured against a
reference V* solved to 1e-9.

Each solver runs in a forked child process, so its peak memory (VmHWM less the RSS at fork) is its
own. The bandwidth floor of one sweep is the bytes a sweep must move (the CSR arrays, R, V read and
written) over the copy bandwidth measured in this run. Prints a table, then one JSON line.

Run: ``python -m experiments.bench.bellman [--states 1000000] [--small-states 5000]``
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import time
import traceback
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from nets import bellman


@dataclass
class Config:
    states: int = 1_000_000  # states of the large MDP (rounded to a square map)
    small_states: int = 5_000  # states of the instance pymdptoolbox also solves
    actions: int = 5  # stay, north, south, east, west
    successors: int = 5  # successors per state-action pair (duplicates merge)
    gammas: str = "0.95,0.99"  # discounts to solve at
    tol: float = 1e-6  # sup-norm accuracy every solver must reach
    mpi_k: int = 20  # partial-evaluation sweeps per MPI iteration (ours and quantecon's)
    quantecon_methods: str = "mpi,vi,pi"  # quantecon DiscreteDP methods to time on the small MDP
    quantecon_large_methods: str = "mpi,vi"  # ... on the large one (its PI, a sparse LU of 10^6 states, ran >600 s)
    timeout: float = 900.0  # seconds before a child solver is abandoned
    seed: int = 0  # generator seed


# --------------------------------------------------------------------------------------------------
# The MDP
# --------------------------------------------------------------------------------------------------


def game_mdp(n_states: int, n_actions: int, successors: int, seed: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """The stacked transitions (S*A, S), row s*A + a, and rewards (S, A) of a torus map MDP."""
    rng = np.random.default_rng(seed)
    side = max(2, int(round(math.sqrt(n_states))))
    n = side * side
    rows = n * n_actions
    moves = np.array([(0, 0), (-1, 0), (1, 0), (0, 1), (0, -1)])[:n_actions]
    cell = np.repeat(np.arange(n), n_actions)
    r0, c0 = cell // side, cell % side
    act = np.tile(np.arange(n_actions), n)
    cols = np.empty((rows, successors), dtype=np.int64)
    cols[:, 0] = ((r0 + moves[act, 0]) % side) * side + (c0 + moves[act, 1]) % side
    dr = rng.integers(-2, 3, size=(rows, successors - 1))
    dc = rng.integers(-2, 3, size=(rows, successors - 1))
    cols[:, 1:] = ((r0[:, None] + dr) % side) * side + (c0[:, None] + dc) % side
    probs = np.empty((rows, successors))
    probs[:, 0] = rng.uniform(0.5, 0.9, rows)
    rest = rng.random((rows, successors - 1)) + 1e-3
    probs[:, 1:] = rest / rest.sum(axis=1, keepdims=True) * (1.0 - probs[:, :1])
    indptr = np.arange(0, rows * successors + 1, successors, dtype=np.int64)
    P = sp.csr_matrix((probs.ravel(), cols.ravel().astype(np.int32), indptr), shape=(rows, n))
    P.sum_duplicates()
    R = -rng.uniform(0.0, 0.1, (n, n_actions))
    R[rng.random(n) < 0.001] += 10.0
    return P, R


# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return 0


def _child(conn, fn, args):
    try:
        # Warm up first on a tiny MDP of the same kind, so that numba's compilation (ours and
        # quantecon's) is not counted as solving time.
        tiny = bellman.TabularMDP.from_stacked(*game_mdp(64, args[0].n_actions, 3, 0), args[0].gamma)
        fn(tiny, *args[1:])
        base = _rss_kib("VmRSS")
        t0 = time.perf_counter()
        result = fn(*args)
        result["seconds"] = time.perf_counter() - t0
        result["peak_mib"] = (_rss_kib("VmHWM") - base) / 1024
        conn.send(result)
    except Exception:  # report instead of hanging the parent
        conn.send({"error": traceback.format_exc(limit=3).strip().splitlines()[-1]})
    finally:
        conn.close()


def run_isolated(fn, *args, timeout: float) -> dict:
    """Run fn(*args) -> dict in a forked child; add its wall time and peak extra memory (MiB)."""
    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args))
    proc.start()
    child.close()
    if parent.poll(timeout):
        result = parent.recv()
    else:
        result = {"error": f"timed out after {timeout:.0f} s"}
        proc.kill()
    proc.join()
    return result


def copy_bandwidth(n_bytes: int = 1 << 29, repeats: int = 5) -> float:
    """Bytes per second of a large numpy copy (counting the read and the write), best of repeats."""
    src = np.ones(n_bytes // 8)
    dst = np.empty_like(src)
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def sweep_bytes(mdp: bellman.TabularMDP) -> int:
    """Bytes one Bellman sweep must move: CSR data, indices, indptr, R, V read and V written."""
    P = mdp.P
    return P.data.nbytes + P.indices.nbytes + P.indptr.nbytes + mdp.R.nbytes + 2 * 8 * mdp.n_states


def time_sweep(fn, repeats: int = 7) -> float:
    """Median seconds of fn() after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# --------------------------------------------------------------------------------------------------
# Solvers, each returning a dict of figures (run inside a child)
# --------------------------------------------------------------------------------------------------


def ours(mdp, method: str, tol: float, k: int, kernel: str = "auto") -> dict:
    if method == "vi":
        sol = bellman.value_iteration(mdp, tol=tol, kernel=kernel)
        sweeps = sol.iterations
    else:
        sol = bellman.modified_policy_iteration(mdp, k=k, tol=tol, kernel=kernel)
        sweeps = sol.iterations + k * (sol.iterations - 1)  # full backups plus partial (one-action) ones
    return {"V": sol.V, "policy": sol.policy, "iterations": sol.iterations, "sweeps": sweeps}


def quantecon_solve(mdp, method: str, tol: float, k: int) -> dict:
    from quantecon.markov import DiscreteDP

    n, m = mdp.shape
    s_idx = np.repeat(np.arange(n), m)
    a_idx = np.tile(np.arange(m), n)
    ddp = DiscreteDP(mdp.R.ravel(), mdp.P, mdp.gamma, s_idx, a_idx)
    names = {"vi": "value_iteration", "mpi": "modified_policy_iteration", "pi": "policy_iteration"}
    # quantecon's epsilon: its returned v is within epsilon/2 of V* (norm rule for VI, span rule
    # with a midrange shift for MPI), so epsilon = 2 tol asks for the same accuracy as ours.
    kwargs = {"max_iter": 1_000_000}
    if method != "pi":
        kwargs["epsilon"] = 2 * tol
    if method == "mpi":
        kwargs["k"] = k
    res = ddp.solve(method=names[method], **kwargs)
    it = int(res.num_iter)
    sweeps = {"vi": it, "mpi": it + k * (it - 1), "pi": None}[method]  # PI: linear solves, not sweeps
    return {"V": np.asarray(res.v), "policy": np.asarray(res.sigma), "iterations": it, "sweeps": sweeps}


def mdptoolbox_solve(mdp, tol: float) -> dict:
    import mdptoolbox.mdp

    n, m = mdp.shape
    mats = [mdp.transition_matrix(a) for a in range(m)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pymdptoolbox's span rule stops when span(V_k+1 - V_k) < epsilon (1-gamma)/gamma; it promises an
        # epsilon-optimal policy, not |V - V*| <= epsilon, and returns V uncorrected.
        vi = mdptoolbox.mdp.ValueIteration(mats, mdp.R, mdp.gamma, epsilon=tol, max_iter=1_000_000)
        vi.run()
    return {
        "V": np.asarray(vi.V),
        "policy": np.asarray(vi.policy),
        "iterations": int(vi.iter),
        "sweeps": int(vi.iter),
    }


def sweep_times(mdp) -> dict:
    """Median seconds of one full Bellman backup: our two kernels and quantecon's operator."""
    from quantecon.markov import DiscreteDP

    V = np.random.default_rng(0).random(mdp.n_states)
    out = np.empty_like(V)
    numba_ops = bellman._NumpyOps(mdp, "numba")
    scipy_ops = bellman._NumpyOps(mdp, "scipy")
    n, m = mdp.shape
    ddp = DiscreteDP(mdp.R.ravel(), mdp.P, mdp.gamma, np.repeat(np.arange(n), m), np.tile(np.arange(m), n))
    return {
        "numba": time_sweep(lambda: numba_ops.backup(V, out)),
        "scipy": time_sweep(lambda: scipy_ops.backup(V)),
        "quantecon": time_sweep(lambda: ddp.bellman_operator(V)),
    }


def reference(mdp, k: int) -> dict:
    sol = bellman.modified_policy_iteration(mdp, k=k, tol=1e-9)
    return {"V": sol.V, "policy": sol.policy}


# --------------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------------


def solve_all(mdp, cfg: Config, label: str, rows: list, with_toolbox: bool) -> None:
    ref = run_isolated(reference, mdp, cfg.mpi_k, timeout=cfg.timeout)
    if "error" in ref:
        raise RuntimeError(f"reference solve failed: {ref['error']}")
    V_star = ref["V"]
    runs = [
        ("ours VI (numba)", ours, (mdp, "vi", cfg.tol, cfg.mpi_k)),
        ("ours MPI (numba)", ours, (mdp, "mpi", cfg.tol, cfg.mpi_k)),
        ("ours MPI (scipy)", ours, (mdp, "mpi", cfg.tol, cfg.mpi_k, "scipy")),
    ]
    methods = cfg.quantecon_methods if with_toolbox else cfg.quantecon_large_methods
    runs += [(f"quantecon {m.upper()}", quantecon_solve, (mdp, m, cfg.tol, cfg.mpi_k)) for m in methods.split(",") if m]
    if with_toolbox:
        runs.append(("pymdptoolbox VI", mdptoolbox_solve, (mdp, cfg.tol)))
    for name, fn, args in runs:
        print(f"  {label}: {name} ...", flush=True)
        res = run_isolated(fn, *args, timeout=cfg.timeout)
        row = {"mdp": label, "gamma": mdp.gamma, "solver": name}
        if "error" in res:
            row["error"] = res["error"]
        else:
            row.update(
                seconds=res["seconds"],
                iterations=res["iterations"],
                sweeps=res.get("sweeps"),
                peak_mib=res["peak_mib"],
                error=float(np.abs(res["V"] - V_star).max()),
                policy_optimal=bool(_policy_optimal(mdp, res["policy"], V_star)),
            )
        rows.append(row)


def _policy_optimal(mdp, policy, V_star, slack: float = 1e-7) -> bool:
    """Every chosen action's Q under V* is within slack of the best."""
    Q = mdp.R + mdp.gamma * (mdp.P @ V_star).reshape(mdp.shape)
    chosen = Q[np.arange(mdp.n_states), np.asarray(policy, dtype=np.int64)]
    return bool(np.all(chosen >= Q.max(axis=1) - slack))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, default in vars(Config()).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    cfg = Config(**vars(parser.parse_args(argv)))
    gammas = [float(g) for g in cfg.gammas.split(",")]
    # Nothing numba-parallel may run in this process: solvers run in forked children, and a threading
    # layer (OpenMP) started before a fork is unsafe in the child.
    print(f"machine: {os.cpu_count()} cores")

    # ---- build the MDPs
    t0 = time.perf_counter()
    P, R = game_mdp(cfg.states, cfg.actions, cfg.successors, cfg.seed)
    big = bellman.TabularMDP.from_stacked(P, R, gammas[0])
    print(f"large MDP: {big} built in {time.perf_counter() - t0:.1f} s")
    Ps, Rs = game_mdp(cfg.small_states, cfg.actions, cfg.successors, cfg.seed + 1)

    # ---- one sweep against the bandwidth floor
    bandwidth = copy_bandwidth()
    floor = sweep_bytes(big) / bandwidth
    sweeps = run_isolated(sweep_times, big, timeout=cfg.timeout)  # numba threads start in a child only
    sweep_numba, sweep_scipy, sweep_qe = sweeps["numba"], sweeps["scipy"], sweeps["quantecon"]
    print(
        f"\none sweep over {big.n_states:,} states, {big.P.nnz:,} nonzeros "
        f"({sweep_bytes(big) / 1e6:.0f} MB to move at {bandwidth / 1e9:.1f} GB/s copy bandwidth):"
    )
    print(f"  {'bandwidth floor':<22}{floor * 1e3:>9.1f} ms")
    for name, t in (("ours (numba)", sweep_numba), ("ours (scipy)", sweep_scipy), ("quantecon", sweep_qe)):
        print(f"  {name:<22}{t * 1e3:>9.1f} ms  {t / floor:5.2f}x floor")

    # ---- full solves
    rows: list[dict] = []
    for gamma in gammas:
        big.gamma = gamma
        solve_all(big, cfg, f"{big.n_states // 1000}k", rows, with_toolbox=False)
        small = bellman.TabularMDP.from_stacked(Ps, Rs, gamma)
        solve_all(small, cfg, f"{small.n_states}", rows, with_toolbox=True)

    print(f"\nsolves to |V - V*| <= {cfg.tol:g} (error measured against V* solved to 1e-9):")
    print(
        f"{'states':>8} {'gamma':>6}  {'solver':<19}{'seconds':>8}{'iters':>7}{'sweeps':>7}{'ms/sweep':>9}"
        f"{'peak MiB':>9}{'|V-V*|':>9}  policy"
    )
    for r in rows:
        if "seconds" not in r:
            print(f"{r['mdp']:>8} {r['gamma']:>6}  {r['solver']:<19}  failed: {r['error']}")
            continue
        sweeps = f"{r['sweeps']:>7}" if r["sweeps"] else f"{'-':>7}"
        per = f"{r['seconds'] / r['sweeps'] * 1e3:>9.1f}" if r["sweeps"] else f"{'-':>9}"
        print(
            f"{r['mdp']:>8} {r['gamma']:>6}  {r['solver']:<19}{r['seconds']:>8.2f}{r['iterations']:>7}{sweeps}{per}"
            f"{r['peak_mib']:>9.0f}{r['error']:>9.1e}  {'optimal' if r['policy_optimal'] else 'NOT optimal'}"
        )
    print(
        "(MPI sweeps count its full backups plus its partial-evaluation sweeps; PI's work is linear solves)"
    )

    # ---- figures
    figures: dict = {
        "states": big.n_states,
        "nonzeros": int(big.P.nnz),
        "sweep_ms": round(sweep_numba * 1e3, 2),
        "sweep_scipy_ms": round(sweep_scipy * 1e3, 2),
        "sweep_quantecon_ms": round(sweep_qe * 1e3, 2),
        "floor_ms": round(floor * 1e3, 2),
        "sweep_vs_floor": round(sweep_numba / floor, 2),
        "copy_gbps": round(bandwidth / 1e9, 2),
    }
    for gamma in gammas:
        big_rows = [r for r in rows if r["gamma"] == gamma and r["mdp"].endswith("k") and "seconds" in r]
        ours_best = min((r for r in big_rows if r["solver"].startswith("ours")), key=lambda r: r["seconds"])
        qe = [r for r in big_rows if r["solver"].startswith("quantecon") and r["error"] <= cfg.tol * 1.01]
        tag = f"g{gamma}".replace(".", "")
        figures[f"ours_s_{tag}"] = round(ours_best["seconds"], 2)
        figures[f"ours_solver_{tag}"] = ours_best["solver"]
        if qe:
            qe_best = min(qe, key=lambda r: r["seconds"])
            figures[f"quantecon_s_{tag}"] = round(qe_best["seconds"], 2)
            figures[f"quantecon_solver_{tag}"] = qe_best["solver"]
            figures[f"speedup_vs_quantecon_{tag}"] = round(qe_best["seconds"] / ours_best["seconds"], 2)
        small_rows = [
            r for r in rows if r["gamma"] == gamma and not r["mdp"].endswith("k") and "seconds" in r
        ]
        tb = [r for r in small_rows if r["solver"] == "pymdptoolbox VI"]
        ours_small = min(
            (r for r in small_rows if r["solver"].startswith("ours")), key=lambda r: r["seconds"]
        )
        if tb:
            figures[f"mdptoolbox_5k_s_{tag}"] = round(tb[0]["seconds"], 3)
            figures[f"mdptoolbox_5k_error_{tag}"] = float(f"{tb[0]['error']:.3g}")
            figures[f"ours_5k_s_{tag}"] = round(ours_small["seconds"], 3)
    print("\ntargets: total time >= 2x faster than quantecon's fastest; one sweep <= 2x the bandwidth floor")
    print(json.dumps(figures))
    return figures


if __name__ == "__main__":
    main()
