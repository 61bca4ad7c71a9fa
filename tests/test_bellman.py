"""Known answers and properties of the exact MDP solvers in nets.bellman."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nets.bellman as bellman
from nets.bellman import (
    ConvergenceWarning,
    TabularMDP,
    bellman_residual,
    choose_layout,
    greedy_policy,
    modified_policy_iteration,
    policy_evaluation,
    policy_iteration,
    value_iteration,
)

# --------------------------------------------------------------------------------------------------
# Known answers
# --------------------------------------------------------------------------------------------------


def gridworld_4x4() -> TabularMDP:
    """Sutton & Barto's Example 4.1: states 0 and 15 terminal, reward -1 per move, gamma = 1."""
    n, moves = 4, [(-1, 0), (0, 1), (1, 0), (0, -1)]  # up, right, down, left
    T = np.zeros((4, 16, 16))
    R = np.full((16, 4), -1.0)
    for s in range(16):
        r, c = divmod(s, n)
        for a, (dr, dc) in enumerate(moves):
            r2, c2 = r + dr, c + dc
            s2 = r2 * n + c2 if 0 <= r2 < n and 0 <= c2 < n else s
            T[a, s, s2] = 1.0
    terminal = np.zeros(16, dtype=bool)
    terminal[[0, 15]] = True
    return TabularMDP(T, R, 1.0, terminal=terminal)


SB_FIG_4_1 = np.array(
    [[0, -14, -20, -22], [-14, -18, -20, -20], [-20, -20, -18, -14], [-22, -20, -14, 0]], dtype=float
)


@pytest.mark.parametrize("method", ["exact", "iterative"])
def test_sutton_barto_figure_4_1_random_policy(method):
    mdp = gridworld_4x4()
    uniform = np.full((16, 4), 0.25)
    V = policy_evaluation(mdp, uniform, tol=1e-10, method=method)
    np.testing.assert_allclose(V.reshape(4, 4), SB_FIG_4_1, atol=1e-6)


def test_gridworld_optimal_values_are_minus_steps_to_a_corner():
    mdp = gridworld_4x4()
    expected = -np.array([min(r + c, 6 - r - c) for r in range(4) for c in range(4)], dtype=float)
    for solve in (value_iteration, modified_policy_iteration):
        sol = solve(mdp, tol=1e-10)
        np.testing.assert_allclose(sol.V, expected, atol=1e-9)
    np.testing.assert_allclose(policy_iteration(gridworld_4x4()).V, expected, atol=1e-9)


def frozenlake(gamma: float, map_name: str = "4x4") -> TabularMDP:
    env = gym.make("FrozenLake-v1", map_name=map_name, is_slippery=True)
    return TabularMDP.from_gymnasium(env.unwrapped.P, gamma)


@pytest.mark.parametrize(
    "gamma, expected, places",
    [(1.0, 14 / 17, 9), (0.9, 0.068891, 6), (0.99, 0.542026, 6)],
)
def test_frozenlake_start_value(gamma, expected, places):
    mdp = frozenlake(gamma)
    tol = 1e-12 if gamma == 1.0 else 1e-9
    for sol in (
        value_iteration(mdp, tol=tol),
        modified_policy_iteration(mdp, tol=tol),
        policy_iteration(mdp),
    ):
        assert sol.converged
        assert round(sol.V[0], places) == pytest.approx(round(expected, places), abs=10.0**-places), (
            sol.method
        )


def test_frozenlake_terminal_states_are_holes_and_goal():
    env = gym.make("FrozenLake-v1", map_name="4x4", is_slippery=True)
    mdp = TabularMDP.from_gymnasium(env.unwrapped.P, 0.9)
    desc = env.unwrapped.desc.astype(str).ravel()
    np.testing.assert_array_equal(mdp.terminal, np.isin(desc, ["H", "G"]))
    assert value_iteration(mdp).V[mdp.terminal].tolist() == [0.0] * int(mdp.terminal.sum())


def test_cliffwalking_optimal_return_is_minus_13():
    env = gym.make("CliffWalking-v1")
    mdp = TabularMDP.from_gymnasium(env.unwrapped.P, 1.0)
    start = int(np.flatnonzero(env.unwrapped.initial_state_distrib)[0])
    sol = value_iteration(mdp, tol=1e-10)
    assert sol.V[start] == pytest.approx(-13.0, abs=1e-9)


def test_taxi_builds_and_optimal_values_are_bounded():
    env = gym.make(max(k for k in gym.registry if k.startswith("Taxi-v")))  # the newest version here
    mdp = TabularMDP.from_gymnasium(env.unwrapped.P, 0.99)
    assert mdp.shape == (500, 6)
    sol = modified_policy_iteration(mdp, tol=1e-8)
    pi = policy_iteration(mdp)
    np.testing.assert_allclose(sol.V, pi.V, atol=2e-8)
    # The best state is carrying the passenger on the destination: drop off for +20 and the episode ends.
    assert sol.V.max() == pytest.approx(20.0, abs=1e-9)
    # One step away, with a -1 move first: -1 + 0.99 * 20.
    assert np.isclose(sol.V, -1 + 0.99 * 20.0, atol=1e-9).any()


def test_reward_forms_agree():
    rng = np.random.default_rng(0)
    T = rng.random((3, 6, 6))
    T /= T.sum(axis=2, keepdims=True)
    R3 = rng.normal(size=(3, 6, 6))
    R2 = np.einsum("ast,ast->sa", T, R3)
    a = value_iteration(TabularMDP(T, R3, 0.9), tol=1e-10)
    b = value_iteration(TabularMDP(T, R2, 0.9), tol=1e-10)
    c = value_iteration(
        TabularMDP([sp.csr_matrix(t) for t in T], [sp.csr_matrix(r) for r in R3], 0.9), tol=1e-10
    )
    np.testing.assert_allclose(a.V, b.V, atol=1e-12)
    np.testing.assert_allclose(a.V, c.V, atol=1e-12)


def test_value_iteration_residual_history_and_bound():
    mdp = frozenlake(0.95)
    sol = value_iteration(mdp, tol=1e-8, order="jacobi")
    assert sol.iterations == len(sol.residuals)
    assert np.all(np.diff(sol.residuals[5:]) <= 1e-15)  # the sup-norm change contracts
    assert sol.error_bound <= 1e-8
    assert bellman_residual(mdp, sol.V) <= (1 + mdp.gamma) * 1e-8


def test_max_iter_warns_and_reports_residual():
    mdp = frozenlake(0.99)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3 .*residual"):
        sol = value_iteration(mdp, max_iter=3)
    assert not sol.converged and sol.iterations == 3
    assert sol.error_bound > 1e-8
    with pytest.warns(ConvergenceWarning):
        assert not modified_policy_iteration(mdp, max_iter=2).converged


def test_gamma_one_has_no_bound():
    sol = value_iteration(gridworld_4x4(), tol=1e-9)
    assert sol.converged and np.isnan(sol.error_bound)


def test_gamma_one_improper_policy_is_a_clear_error():
    mdp = gridworld_4x4()
    up = np.zeros(16, dtype=int)  # "up" forever never leaves the top row's right part
    with pytest.raises(ValueError, match="terminal"):
        policy_evaluation(mdp, up)


# --------------------------------------------------------------------------------------------------
# Validation: every error names the problem and where it is
# --------------------------------------------------------------------------------------------------


def _valid():
    T = np.array([[[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [0.3, 0.7]]])
    R = np.zeros((2, 2))
    return T, R


def test_rows_must_sum_to_one():
    T, R = _valid()
    T[1, 1] = [0.3, 0.6]
    with pytest.raises(ValueError, match=r"transitions\[1\] row 1 sums to 0\.9"):
        TabularMDP(T, R, 0.9)


def test_row_sum_tolerance_is_1e9():
    T, R = _valid()
    T[0, 0] = [0.5, 0.5 + 5e-10]
    TabularMDP(T, R, 0.9)  # within 1e-9
    T[0, 0] = [0.5, 0.5 + 5e-9]
    with pytest.raises(ValueError, match=r"row 0 sums"):
        TabularMDP(T, R, 0.9)


def test_negative_probability():
    T, R = _valid()
    T[0, 0] = [1.5, -0.5]
    with pytest.raises(ValueError, match=r"transitions\[0\]\[0, 1\] = -0\.5 is negative"):
        TabularMDP(T, R, 0.9)


def test_nan_probability():
    T, R = _valid()
    T[1, 0, 1] = np.nan
    with pytest.raises(ValueError, match=r"transitions\[1\]\[0, 1\] is nan"):
        TabularMDP(T, R, 0.9)


def test_nan_reward():
    T, R = _valid()
    R[1, 0] = np.nan
    with pytest.raises(ValueError, match=r"R\(1, 0\) is nan"):
        TabularMDP(T, R, 0.9)


@pytest.mark.parametrize("gamma", [-0.1, 1.01, float("nan")])
def test_gamma_outside_unit_interval(gamma):
    T, R = _valid()
    with pytest.raises(ValueError, match=r"gamma = .* is outside \[0, 1\]"):
        TabularMDP(T, R, gamma)


def test_shape_mismatches():
    T, R = _valid()
    with pytest.raises(ValueError, match=r"rewards has shape \(3, 2\)"):
        TabularMDP(T, np.zeros((3, 2)), 0.9)
    with pytest.raises(ValueError, match=r"must be \(A, S, S\)"):
        TabularMDP(np.zeros((2, 2, 3)), R, 0.9)
    with pytest.raises(
        ValueError, match=r"transitions\[1\] has shape \(3, 3\), but transitions\[0\] has shape \(2, 2\)"
    ):
        TabularMDP([sp.eye(2), sp.eye(3)], R, 0.9)
    with pytest.raises(ValueError, match=r"terminal has shape \(3,\)"):
        TabularMDP(T, R, 0.9, terminal=[True, False, False])
    with pytest.raises(ValueError, match=r"policy has shape \(3,\)"):
        policy_evaluation(TabularMDP(T, R, 0.9), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match=r"policy\[1\] = 5 is not an action"):
        policy_evaluation(TabularMDP(T, R, 0.9), np.array([0, 5]))


def test_terminal_rows_may_be_empty():
    T, R = _valid()
    T[:, 1] = 0.0
    mdp = TabularMDP(T, np.ones((2, 2)), 0.5, terminal=[False, True])
    # From state 0: action 1 stays forever (1/(1-0.5) = 2), action 0 reaches the terminal half the time.
    assert value_iteration(mdp, tol=1e-12).V[0] == pytest.approx(2.0, abs=1e-11)


# --------------------------------------------------------------------------------------------------
# Properties on random MDPs
# --------------------------------------------------------------------------------------------------


@st.composite
def random_mdps(draw, max_states: int = 12, max_actions: int = 4):
    n = draw(st.integers(2, max_states))
    m = draw(st.integers(1, max_actions))
    seed = draw(st.integers(0, 2**31 - 1))
    gamma = draw(st.sampled_from([0.0, 0.3, 0.9, 0.97]))
    density = draw(st.sampled_from([0.2, 0.5, 1.0]))
    rng = np.random.default_rng(seed)
    T = rng.random((m, n, n)) * (rng.random((m, n, n)) < density)
    T[:, np.arange(n), rng.integers(0, n, n)] += 0.1  # at least one successor per row
    T /= T.sum(axis=2, keepdims=True)
    R = rng.normal(size=(n, m))
    terminal = rng.random(n) < 0.2 if draw(st.booleans()) else None
    return T, R, gamma, terminal


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TOL = 1e-8


@PROPERTY
@given(random_mdps())
def test_solvers_agree_and_meet_their_bound(case):
    T, R, gamma, terminal = case
    mdp = TabularMDP(T, R, gamma, terminal=terminal)
    exact = policy_iteration(mdp)  # V* up to a linear solve's rounding
    for sol in (value_iteration(mdp, tol=TOL), modified_policy_iteration(mdp, k=5, tol=TOL)):
        assert sol.converged
        assert sol.error_bound <= TOL
        assert np.abs(sol.V - exact.V).max() <= TOL + 1e-10, sol.method  # the stated guarantee
        assert bellman_residual(mdp, sol.V) <= (1 + gamma) * TOL + 1e-10
    assert bellman_residual(mdp, exact.V) <= 1e-9


@PROPERTY
@given(random_mdps())
def test_policy_evaluation_of_returned_policy_reproduces_V(case):
    T, R, gamma, terminal = case
    mdp = TabularMDP(T, R, gamma, terminal=terminal)
    sol = value_iteration(mdp, tol=TOL)
    V_pi = policy_evaluation(mdp, sol.policy)
    # A greedy policy w.r.t. an eps-accurate V loses at most 2 gamma eps / (1 - gamma).
    assert np.abs(V_pi - sol.V).max() <= TOL + 2 * gamma * TOL / (1 - gamma) + 1e-10
    V_iter = policy_evaluation(mdp, sol.policy, tol=1e-10, method="iterative")
    np.testing.assert_allclose(V_iter, V_pi, atol=1e-9)
    np.testing.assert_array_equal(greedy_policy(mdp, sol.V), sol.policy)


@PROPERTY
@given(random_mdps())
def test_dense_and_sparse_inputs_give_the_same_result(case):
    T, R, gamma, terminal = case
    dense = value_iteration(TabularMDP(T, R, gamma, terminal=terminal), tol=TOL)
    sparse = value_iteration(TabularMDP([sp.csr_matrix(t) for t in T], R, gamma, terminal=terminal), tol=TOL)
    np.testing.assert_allclose(dense.V, sparse.V, atol=1e-12)
    np.testing.assert_array_equal(dense.policy, sparse.policy)


@settings(max_examples=25, deadline=None)
@given(random_mdps())
def test_kernels_and_torch_cpu_agree_to_1e9(case):
    T, R, gamma, terminal = case
    mdp = TabularMDP(T, R, gamma, terminal=terminal)
    ref = value_iteration(mdp, tol=1e-10, kernel="numba")
    for other in (
        value_iteration(mdp, tol=1e-10, kernel="scipy"),
        value_iteration(mdp, tol=1e-10, device="cpu"),
        modified_policy_iteration(mdp, tol=1e-10, device="cpu"),
    ):
        np.testing.assert_allclose(other.V, ref.V, atol=1e-9)


def test_parallel_kernel_matches_serial(monkeypatch):
    import nets.bellman as bellman

    rng = np.random.default_rng(3)
    n, m = 400, 3
    T = [sp.random(n, n, density=0.02, random_state=rng, format="csr") + sp.eye(n) for _ in range(m)]
    T = [sp.csr_matrix(t.multiply(1 / t.sum(axis=1))) for t in T]
    mdp = TabularMDP(T, rng.normal(size=(n, m)), 0.95)
    serial = value_iteration(mdp, tol=1e-10)
    monkeypatch.setattr(bellman, "PARALLEL_MIN_NNZ", 0)
    parallel = value_iteration(mdp, tol=1e-10)
    np.testing.assert_allclose(parallel.V, serial.V, atol=1e-12)
    assert parallel.iterations == serial.iterations


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_matches_cpu():
    mdp = frozenlake(0.99, "8x8")
    np.testing.assert_allclose(value_iteration(mdp, device="cuda").V, value_iteration(mdp).V, atol=1e-9)


def test_asking_for_cuda_without_it_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is present")
    with pytest.raises(ValueError, match="CUDA is not available"):
        value_iteration(frozenlake(0.9), device="cuda")


# --------------------------------------------------------------------------------------------------
# pymdptoolbox, an outside reference: compare optimal policies, not V
# --------------------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(random_mdps(max_states=15, max_actions=4))
def test_pymdptoolbox_agrees_on_the_optimal_policy(case):
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    T, R, gamma, _ = case
    if gamma == 0.0:
        gamma = 0.5  # pymdptoolbox rejects a zero discount
    ours = policy_iteration(TabularMDP(T, R, gamma))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = mdptoolbox.PolicyIteration(T, R, gamma)
        ref.run()
    theirs = np.asarray(ref.policy)
    differ = theirs != ours.policy
    if differ.any():  # only exact ties may differ
        q = ours.Q[np.flatnonzero(differ)]
        gap = q[np.arange(len(q)), ours.policy[differ]] - q[np.arange(len(q)), theirs[differ]]
        assert np.all(np.abs(gap) <= 1e-9)


# --------------------------------------------------------------------------------------------------
# Every method on every layout meets max|V - V*| <= tol against exact policy evaluation
# --------------------------------------------------------------------------------------------------

# (name, solver(mdp, tol, **where)) for every iterative method; ``where`` picks the layout or device.
METHODS = {
    "vi": lambda mdp, tol, **w: value_iteration(mdp, tol=tol, **w),
    "vi-jacobi": lambda mdp, tol, **w: value_iteration(mdp, tol=tol, order="jacobi", **w),
    "vi-plain": lambda mdp, tol, **w: value_iteration(mdp, tol=tol, order="jacobi", dead_ends=False, **w),
    "vi-gs": lambda mdp, tol, **w: value_iteration(mdp, tol=tol, order="gauss-seidel", **w),
    "mpi-auto": lambda mdp, tol, **w: modified_policy_iteration(mdp, tol=tol, **w),
    "mpi-auto-gs": lambda mdp, tol, **w: modified_policy_iteration(mdp, tol=tol, order="gauss-seidel", **w),
    "mpi-5": lambda mdp, tol, **w: modified_policy_iteration(mdp, k=5, tol=tol, order="jacobi", **w),
    "mpi-0-plain": lambda mdp, tol, **w: modified_policy_iteration(mdp, k=0, tol=tol, dead_ends=False, **w),
}
GAUSS_SEIDEL = {"vi-gs", "mpi-auto-gs"}
TORCH_METHODS = {"mpi-auto"}  # VI on torch: test_kernels_and_torch_cpu_agree_to_1e9 and the GPU test
LAYOUTS = {
    "ell": {"layout": "ell"},
    "csr": {"layout": "csr"},
    "scipy": {"kernel": "scipy"},
    "torch-cpu": {"device": "cpu"},
}


def solve_everywhere(mdp, tol, layouts=tuple(LAYOUTS)):
    """{(method, layout): Solution} for every method that runs on each layout."""
    out = {}
    for name, solve in METHODS.items():
        for where in layouts:
            if name in GAUSS_SEIDEL and where in ("scipy", "torch-cpu"):
                continue  # Gauss-Seidel runs on the numba kernels only (see test_bad_options_are_clear_errors)
            if where == "torch-cpu" and name not in TORCH_METHODS:
                continue  # torch pays milliseconds per sweep on a busy CPU: MPI has the fewest sweeps
            out[name, where] = solve(mdp, tol, **LAYOUTS[where])
    return out


def exact_optimum(mdp) -> np.ndarray:
    """V* by policy iteration, whose every evaluation, the last one included, is a sparse LU solve."""
    return policy_iteration(mdp).V


def assert_within_tol(mdp, sols, V_star, tol):
    for (name, where), sol in sols.items():
        err = np.abs(sol.V - V_star).max()
        assert sol.converged, (name, where)
        if mdp.gamma < 1.0:
            assert sol.error_bound <= tol, (name, where, sol.error_bound)
            assert err <= sol.error_bound + 1e-10, (name, where, err, sol.error_bound)  # the bound is honest
        assert err <= tol + 1e-10, (name, where, err)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_mdps())
def test_every_method_on_every_layout_is_within_tol_of_exact(case):
    T, R, gamma, terminal = case
    if gamma == 1.0:
        return
    mdp = TabularMDP(T, R, gamma, terminal=terminal)
    V_star = exact_optimum(mdp)
    assert_within_tol(mdp, solve_everywhere(mdp, 1e-7), V_star, 1e-7)


@pytest.mark.parametrize(
    "make, gamma",
    [(lambda g: frozenlake(g), 0.9), (lambda g: frozenlake(g, "8x8"), 0.99), (lambda g: frozenlake(g), 1.0)],
    ids=["frozenlake-4x4-0.9", "frozenlake-8x8-0.99", "frozenlake-4x4-1.0"],
)
def test_every_method_on_every_layout_on_frozenlake(make, gamma):
    mdp = make(gamma)
    V_star = exact_optimum(mdp)
    tol = 1e-9 if gamma < 1 else 1e-12  # gamma = 1 has no bound: a tight heuristic threshold instead
    assert_within_tol(mdp, solve_everywhere(mdp, tol), V_star, 1e-9)


def test_every_method_on_every_layout_on_the_gridworld_and_cliff():
    expected = -np.array([min(r + c, 6 - r - c) for r in range(4) for c in range(4)], dtype=float)
    for sol in solve_everywhere(gridworld_4x4(), 1e-10).values():
        np.testing.assert_allclose(sol.V, expected, atol=1e-9, err_msg=sol.method)
    env = gym.make("CliffWalking-v1")
    start = int(np.flatnonzero(env.unwrapped.initial_state_distrib)[0])
    cliff = TabularMDP.from_gymnasium(env.unwrapped.P, 0.95)
    V_star = exact_optimum(cliff)
    sols = solve_everywhere(cliff, 1e-8, layouts=("ell", "csr"))
    assert_within_tol(cliff, sols, V_star, 1e-8)
    assert V_star[start] == pytest.approx(-(1 - 0.95**13) / (1 - 0.95), abs=1e-9)  # 13 steps of -1


def dead_end_mdp(gamma: float = 0.99) -> TabularMDP:
    """A 7-state MDP with a dead-end component, worked by hand.

    States 0-2: a corridor; action 0 moves right (reward -0.1), and from state 2 action 1 reaches
    the goal (state 6, terminal) for +1. Action 1 in states 0 and 1 drops into the trap for -1.
    States 3, 4, 5: the trap, a closed class under every action (3 -> 4 -> 5 -> 3, or stay) with
    reward -0.5 everywhere, so V*(3..5) = -0.5/(1-gamma) exactly, which value iteration reaches only
    at rate gamma (from its start at min R/(1-gamma) = -1/(1-gamma)).
    """
    n = 7
    T = np.zeros((2, n, n))
    R = np.full((n, 2), -0.1)
    T[0, 0, 1] = T[0, 1, 2] = T[0, 2, 2] = 1.0
    T[1, 0, 3] = T[1, 1, 4] = 1.0
    R[0, 1] = R[1, 1] = -1.0
    T[1, 2, 6] = 1.0
    R[2, 1] = 1.0
    for s in (3, 4, 5):
        T[0, s, 3 + (s - 2) % 3] = 1.0  # around the cycle
        T[1, s, s] = 1.0  # stay
        R[s] = -0.5
    T[:, 6, 6] = 1.0
    terminal = np.zeros(n, dtype=bool)
    terminal[6] = True
    return TabularMDP(T, R, gamma, terminal=terminal)


def test_dead_end_values_by_hand():
    gamma = 0.99
    mdp = dead_end_mdp(gamma)
    V_star = exact_optimum(mdp)
    np.testing.assert_allclose(V_star[3:6], -0.5 / (1 - gamma), atol=1e-9)
    np.testing.assert_allclose(V_star[[2, 1, 0]], [1.0, -0.1 + gamma, -0.1 - 0.1 * gamma + gamma**2], atol=1e-12)
    assert_within_tol(mdp, solve_everywhere(mdp, 1e-8), V_star, 1e-8)


def test_dead_end_component_is_found_and_saves_sweeps():
    mdp = dead_end_mdp(0.99)
    # Under "always action 1": states 0 and 1 collect -1, then -0.5 in the trap (a change); state 2
    # collects +1, then 0 at the goal. The trap (-0.5 forever) and the goal (0 forever) are constant.
    mask, r_pi = bellman._constant_future(mdp, np.ones(7, dtype=np.int64))
    assert mask.tolist() == [False, False, False, True, True, True, True]
    np.testing.assert_array_equal(r_pi, [-1.0, -1.0, 1.0, -0.5, -0.5, -0.5, 0.0])
    # Under "always action 0" state 2 stays put collecting -0.1 forever: constant too.
    mask0, _ = bellman._constant_future(mdp, np.zeros(7, dtype=np.int64))
    assert mask0.tolist() == [True, True, True, True, True, True, True]
    for layout in ("ell", "csr"):
        mask_l, _ = bellman._NumpyOps(mdp, "numba", layout).constant_future(np.ones(7, dtype=np.int64))
        np.testing.assert_array_equal(mask_l, mask)
    plain = value_iteration(mdp, tol=1e-8, order="jacobi", dead_ends=False)
    fast = value_iteration(mdp, tol=1e-8, order="jacobi")
    # The trap's error, 50 at the start, needs about log(tol (1-g)/2/50)/log(g) ~ 2,700 sweeps plain.
    assert plain.iterations > 2000
    assert fast.iterations <= 10
    np.testing.assert_allclose(fast.V, plain.V, atol=2e-8)


def test_layouts_agree_to_1e12_sweep_by_sweep():
    rng = np.random.default_rng(7)
    n, m = 300, 4
    T = rng.random((m, n, n)) * (rng.random((m, n, n)) < 0.02)
    T[:, np.arange(n), rng.integers(0, n, n)] += 0.1
    T /= T.sum(axis=2, keepdims=True)
    mdp = TabularMDP(T, rng.normal(size=(n, m)), 0.97)
    V = rng.normal(size=n)
    ops = {layout: bellman._NumpyOps(mdp, "numba", layout) for layout in ("ell", "csr")}
    ref = mdp.R + mdp.gamma * (mdp.P @ V).reshape(n, m)  # scipy's own mat-vec
    for layout, op in ops.items():
        TV, policy, d_max, d_min = op.sweep(V)
        np.testing.assert_allclose(TV, ref.max(axis=1), atol=1e-12, rtol=0, err_msg=layout)
        np.testing.assert_array_equal(policy, ref.argmax(axis=1))
        assert d_max == pytest.approx((TV - V).max(), abs=1e-12)
        assert d_min == pytest.approx((TV - V).min(), abs=1e-12)
        G, *_ = op.gauss_seidel(V)
        G_ref = V.copy()  # plain Gauss-Seidel, written out
        dense = mdp.P.toarray()
        for s in range(n):
            G_ref[s] = max(mdp.R[s, a] + mdp.gamma * dense[s * m + a] @ G_ref for a in range(m))
        np.testing.assert_allclose(G, G_ref, atol=1e-12, rtol=0, err_msg=layout)
    solves = {layout: solve_everywhere(mdp, 1e-9, layouts=(layout,)) for layout in ("ell", "csr")}
    for name in METHODS:
        a, b = solves["ell"][name, "ell"], solves["csr"][name, "csr"]
        np.testing.assert_allclose(a.V, b.V, atol=1e-12, rtol=0, err_msg=name)
        assert a.iterations == b.iterations, name


@settings(max_examples=15, deadline=None)
@given(random_mdps())
def test_layouts_agree_to_1e12_on_random_mdps(case):
    T, R, gamma, terminal = case
    mdp = TabularMDP(T, R, gamma, terminal=terminal)
    tol = 1e-9 if gamma < 1 else 1e-12
    for name in ("vi", "vi-gs", "mpi-auto", "mpi-5"):
        a = METHODS[name](mdp, tol, layout="ell")
        b = METHODS[name](mdp, tol, layout="csr")
        np.testing.assert_allclose(a.V, b.V, atol=1e-12, rtol=0, err_msg=name)


def test_threaded_blocks_agree_with_the_serial_kernels(monkeypatch):
    rng = np.random.default_rng(5)
    n, m = 3000, 3
    T = [sp.random(n, n, density=0.001, random_state=rng, format="csr") + sp.eye(n) for _ in range(m)]
    T = [sp.csr_matrix(t.multiply(1 / t.sum(axis=1))) for t in T]
    mdp = TabularMDP(T, rng.normal(size=(n, m)), 0.95)
    V_star = exact_optimum(mdp)
    serial = solve_everywhere(mdp, 1e-8, layouts=("ell", "csr"))
    monkeypatch.setattr(bellman, "PARALLEL_MIN_NNZ", 0)
    monkeypatch.setattr(bellman, "BLOCK", 512)  # several blocks, so Gauss-Seidel is blockwise
    threaded = solve_everywhere(mdp, 1e-8, layouts=("ell", "csr"))
    assert_within_tol(mdp, threaded, V_star, 1e-8)
    for key, sol in threaded.items():
        if key[0] in ("vi-jacobi", "vi-plain", "mpi-auto", "mpi-5"):  # Jacobi: the same sums in the same order
            np.testing.assert_allclose(sol.V, serial[key].V, atol=1e-12, rtol=0, err_msg=str(key))


def test_layout_choice_follows_row_lengths():
    assert choose_layout(frozenlake(0.9)) == "ell"  # rows of 1 or 3 successors
    n = 50
    T = np.tile(np.eye(n), (2, 1, 1))
    T[0, 0] = 1.0 / n  # one row with n successors: padding every row to n would cost ~n/2 x the nonzeros
    assert choose_layout(TabularMDP(T, np.zeros((n, 2)), 0.9)) == "csr"


def test_auto_k_evaluates_and_counts_its_sweeps():
    mdp = frozenlake(0.99, "8x8")
    auto = modified_policy_iteration(mdp, tol=1e-9)
    vi = value_iteration(mdp, tol=1e-9, dead_ends=False)
    assert auto.evaluation_sweeps > 0
    assert auto.iterations < vi.iterations / 5  # the evaluation sweeps do most of the work
    np.testing.assert_allclose(auto.V, vi.V, atol=2e-9)


def test_auto_order_keeps_gauss_seidel_only_where_it_pays():
    chain = 200  # a corridor to a goal: values flow down the chain, and the descending sweep carries them all
    T = np.zeros((1, chain + 1, chain + 1))
    T[0, np.arange(chain), np.arange(1, chain + 1)] = 1.0
    T[0, chain, chain] = 1.0
    R = np.zeros((chain + 1, 1))
    R[chain - 1] = 1.0
    terminal = np.zeros(chain + 1, dtype=bool)
    terminal[chain] = True
    corridor = TabularMDP(T, R, 0.99, terminal=terminal)
    sol = value_iteration(corridor, tol=1e-10)
    assert sol.method == "value_iteration (gauss-seidel)" and sol.iterations <= 4
    assert sol.V[0] == pytest.approx(0.99 ** (chain - 1), abs=1e-10)
    jacobi = value_iteration(corridor, tol=1e-10, order="jacobi")
    assert jacobi.iterations >= chain  # one state per sweep
    # A dense random MDP mixes at once: Jacobi's MacQueen rule needs 12 sweeps, while the Gauss-Seidel
    # change keeps a constant part that shrinks only by gamma per sweep (1,821 sweeps), so auto switches.
    rng = np.random.default_rng(0)
    T = rng.random((3, 50, 50))
    T /= T.sum(axis=2, keepdims=True)
    dense = TabularMDP(T, rng.normal(size=(50, 3)), 0.99)
    sol = value_iteration(dense, tol=1e-9)
    assert sol.method == "value_iteration (gauss-seidel, then jacobi)"
    assert sol.iterations < 50 < value_iteration(dense, tol=1e-9, order="gauss-seidel").iterations


def test_bad_options_are_clear_errors():
    mdp = frozenlake(0.9)
    with pytest.raises(ValueError, match="order='gauss-seidel' needs the numba kernel"):
        value_iteration(mdp, order="gauss-seidel", kernel="scipy")
    with pytest.raises(ValueError, match="order='gauss-seidel' needs the numba kernel"):
        modified_policy_iteration(mdp, order="gauss-seidel", device="cpu")
    with pytest.raises(ValueError, match="layout='ell' needs kernel='numba'"):
        value_iteration(mdp, layout="ell", kernel="scipy")
    with pytest.raises(ValueError, match="unknown layout 'coo'; valid: auto, ell, csr"):
        value_iteration(mdp, layout="coo")
    with pytest.raises(ValueError, match="unknown order 'random'"):
        value_iteration(mdp, order="random")
    with pytest.raises(ValueError, match="k = -1 must be an int >= 0 or 'auto'"):
        modified_policy_iteration(mdp, k=-1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA is not available")
def test_cuda_solvers_meet_the_bound():
    for mdp in (frozenlake(0.99, "8x8"), dead_end_mdp(0.99)):
        V_star = exact_optimum(mdp)
        sols = {}
        for name, solve in METHODS.items():
            if name not in GAUSS_SEIDEL:
                sols[name, "cuda"] = solve(mdp, 1e-9, device="cuda")
        assert_within_tol(mdp, sols, V_star, 1e-9)


def test_fortress_needs_few_sweeps_and_matches_mpi():
    """The bundled 64x64 stealth level that took plain value iteration 1,764 sweeps (dead-end states
    converging at rate gamma): Gauss-Seidel sweeps run the phases backwards, and the states stuck
    next to a sentry forever get -step/(1-gamma) in closed form."""
    from agents.navigation.mdp import build_mdp
    from envs.stealth.level import load_level

    mdp, index = build_mdp(load_level("fortress"), gamma=0.99)
    sol = value_iteration(mdp, tol=1e-8)
    assert sol.converged and sol.error_bound <= 1e-8
    assert sol.iterations <= 30
    mpi = modified_policy_iteration(mdp, tol=1e-8)
    assert np.abs(sol.V - mpi.V).max() <= 2e-8
    assert sol.V[index.start_state] == pytest.approx(-0.497802, abs=1e-6)  # as `sandbox solve` printed before
    stuck = np.isclose(sol.V, -0.01 / (1 - 0.99), atol=1e-9)
    assert stuck.sum() >= 100  # the dead ends exist: a step cost forever is their optimum
