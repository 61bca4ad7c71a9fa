"""Intervals for rates measured over a finite number of episodes or rounds (Wilson, Newcombe); the
balance probe's payoff cells and `sandbox eval` use them."""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile: a two-sided 95% interval


def wilson_interval(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a binomial proportion (Wilson 1927):

        centre = (p + z²/2n) / (1 + z²/n),  half-width = z √(p(1-p)/n + z²/4n²) / (1 + z²/n),

    with p = successes / trials. Unlike the normal (Wald) interval it stays inside [0, 1] and is sensible
    at p = 0 or 1. ``trials == 0`` gives (0, 1): nothing is known."""
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError(f"need 0 <= successes <= trials, got {successes} of {trials}")
    if trials == 0:
        return 0.0, 1.0
    n, p = float(trials), successes / trials
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def difference_interval(successes_a: int, trials_a: int, successes_b: int, trials_b: int,
                        z: float = Z95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (1998, method 10) for the difference of two independent
    proportions ``p_a - p_b``, from the Wilson intervals (l_a, u_a) and (l_b, u_b) of each:

        lower = (p_a - p_b) - sqrt((p_a - l_a)² + (u_b - p_b)²)
        upper = (p_a - p_b) + sqrt((u_a - p_a)² + (p_b - l_b)²)

    Newcombe's example 56/70 - 48/80 gives 0.2000 in (0.0524, 0.3339). At p = 0.5 with 200 trials each
    the half-width is about 0.097; at p near 0 or 1 it shrinks (Wilson)."""
    la, ua = wilson_interval(successes_a, trials_a, z)
    lb, ub = wilson_interval(successes_b, trials_b, z)
    pa = successes_a / trials_a if trials_a else 0.5
    pb = successes_b / trials_b if trials_b else 0.5
    d = pa - pb
    return max(-1.0, d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)), min(1.0, d + math.sqrt((ua - pa) ** 2 +
                                                                                        (pb - lb) ** 2))
