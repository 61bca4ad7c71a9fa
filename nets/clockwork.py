"""The clockwork RNN (Koutník, Greff, Gomez, Schmidhuber, "A Clockwork RNN", ICML 2014).

The hidden layer of ``n`` units is split into ``g`` modules, sorted by increasing clock period
``T_1 < T_2 < ... < T_g``. With ``t = 0`` the first step of a sequence (or episode), module ``i``
updates only at the steps where ``t mod T_i == 0``::

    h_i(t) = tanh( W_I[i] x(t) + sum_{j >= i} W_H[i, j] h_j(t-1) + b_i )   if t mod T_i == 0
    h_i(t) = h_i(t-1)                                                       otherwise

so a module hears itself and the *slower* modules only (the recurrent matrix is block upper
triangular when modules are ordered fast -> slow, as in §3 of the paper).

What makes this implementation faithful and fast:

* **Only existing blocks are parameters.** Module ``i`` owns one "row strip" parameter of shape
  ``(k_i, k_i + ... + k_g)``: its blocks ``W_H[i, i..g]`` side by side. The lower blocks are never
  parameters, so no optimiser keeps state for them. Each forward call assembles the dense block
  triangular matrix once from the strips (zeros below, constant, no gradient).
* **Active-prefix slicing.** When the active modules at step ``t`` are the first ``a`` of the sorted
  list (always the case for periods ``2^i``), only those ``off_a`` rows of the recurrent product are
  computed, in one matrix multiply. The input product of module ``i`` is computed only for the steps
  where ``i`` is active. With periods ``1, 2, 4, ...`` the average number of rows per step is about
  ``2k`` instead of ``n = g k``, which is where the speed-up over a plain RNN comes from.
* **Inactive state is copied, not recomputed**, so it stays the same bit for bit.
* **The clock travels with the state.** :class:`ClockworkState` holds the hidden vector *and* each
  batch row's step counter, so a game loop that feeds one frame at a time produces the same outputs
  as one call on the whole sequence. ``episode_start`` resets a row's hidden state and clock.
* Rows whose clocks differ (after a per-row reset) are handled exactly: the rows computed are the
  longest active prefix over the batch, and a per-row mask keeps each row's inactive modules. When all
  rows share the clock (the usual training case) no mask is needed.

Use it as ``from nets.clockwork import ClockworkRNN``.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn

__all__ = [
    "ClockworkRNN",
    "ClockworkState",
    "active_modules",
    "active_prefix",
    "exponential_periods",
    "clockwork_param_count",
]


class ClockworkState(NamedTuple):
    """Recurrent state of a :class:`ClockworkRNN`: ``hidden`` (batch, n) and ``step`` (batch,) int64.

    ``step[b]`` is the clock value the *next* step of row ``b`` will have (0 = first step)."""

    hidden: torch.Tensor
    step: torch.Tensor


def exponential_periods(g: int) -> tuple[int, ...]:
    """The paper's exponential clock periods ``(1, 2, 4, ..., 2^(g-1))``."""
    if g < 1:
        raise ValueError(f"number of modules must be >= 1, got {g}")
    return tuple(2**i for i in range(g))


def active_modules(t: int, periods: Sequence[int]) -> list[bool]:
    """Which modules update at step ``t``: module ``i`` is active iff ``t mod T_i == 0``."""
    return [t % p == 0 for p in periods]


def active_prefix(t: int, periods: Sequence[int]) -> int:
    """Number of modules in the shortest prefix of the (sorted) list that holds every active module.

    For periods ``2^i`` the active modules *are* that prefix; e.g. at ``t = 12`` with periods
    ``(1, 2, 4, 8)`` modules 0, 1, 2 are active and the prefix length is 3."""
    last = -1
    for i, p in enumerate(periods):
        if t % p == 0:
            last = i
    return last + 1


def clockwork_param_count(input_size: int, module_sizes: Sequence[int]) -> int:
    """Parameters of a CW-RNN hidden layer: the upper-triangular recurrent blocks, the input weights
    and the biases.

    With ``g`` equal modules of ``k`` units (``n = g k``) this is the paper's
    ``k^2 g (g + 1) / 2 + n * input_size + n``; in general ``sum_i k_i (k_i + ... + k_g)`` recurrent
    weights."""
    sizes = list(module_sizes)
    n = sum(sizes)
    recurrent = sum(k * sum(sizes[i:]) for i, k in enumerate(sizes))
    return recurrent + n * input_size + n


@functools.lru_cache(maxsize=64)
def _shared_schedule(
    periods: tuple[int, ...], sizes: tuple[int, ...], c0: int, steps: int
) -> tuple[tuple[int, np.ndarray | None], ...]:
    """Per step of a call starting at clock ``c0``: (rows of the active prefix, per-unit keep-mask or
    None when every module in the prefix is active)."""
    offsets = np.cumsum((0, *sizes))
    plan = []
    for t in range(steps):
        a = active_prefix(c0 + t, periods)
        active = active_modules(c0 + t, periods)[:a]
        keep = None if all(active) else np.repeat(active, sizes[:a])
        plan.append((int(offsets[a]), keep))
    return tuple(plan)


class ClockworkRNN(nn.Module):
    """Clockwork RNN layer (tanh modules). See the module docstring for the maths.

    Args:
        input_size: features per step (0 is allowed: a network that generates from its own state).
        module_size: units per module, an int (all modules equal) or one int per period.
        periods: clock periods, strictly increasing after sorting (duplicates are an error).
        init_std: if given, every weight is drawn from N(0, init_std^2) and biases start at 0 (the
            paper's initialisation); otherwise ``torch.nn.RNN``'s U(-1/sqrt(n), 1/sqrt(n)).

    ``forward(x, state=None, episode_start=None) -> (outputs, state)`` with ``x`` of shape
    (batch, time, input_size) and ``outputs`` (batch, time, n), units in period order.
    """

    def __init__(
        self,
        input_size: int,
        module_size: int | Sequence[int],
        periods: Sequence[int] = (1, 2, 4, 8),
        init_std: float | None = None,
    ) -> None:
        super().__init__()
        periods = [int(p) for p in periods]
        if not periods or min(periods) < 1:
            raise ValueError(f"periods must be a non-empty list of positive ints, got {periods}")
        if len(set(periods)) != len(periods):
            raise ValueError(f"periods must be distinct, got {periods}")
        if isinstance(module_size, int):
            sizes = [module_size] * len(periods)
        else:
            sizes = [int(k) for k in module_size]
            if len(sizes) != len(periods):
                raise ValueError(f"{len(sizes)} module sizes for {len(periods)} periods; give one per period")
        if min(sizes) < 1:
            raise ValueError(f"module sizes must be >= 1, got {sizes}")
        if input_size < 0:
            raise ValueError(f"input_size must be >= 0, got {input_size}")
        order = sorted(range(len(periods)), key=lambda i: periods[i])
        self.periods: tuple[int, ...] = tuple(periods[i] for i in order)
        self.module_sizes: tuple[int, ...] = tuple(sizes[i] for i in order)
        self.input_size = int(input_size)
        self.hidden_size = sum(self.module_sizes)
        self.offsets: tuple[int, ...] = tuple(int(o) for o in np.cumsum((0, *self.module_sizes)))
        n = self.hidden_size
        self.weight_ih = nn.Parameter(torch.empty(n, self.input_size))
        self.bias = nn.Parameter(torch.empty(n))
        # Row strip i: blocks W_H[i, i..g] side by side, shape (k_i, n - off_i). Registered as plain
        # attributes (weight_hh_0, ...): faster to read every call than a ParameterList.
        for i, k in enumerate(self.module_sizes):
            self.register_parameter(f"weight_hh_{i}", nn.Parameter(torch.empty(k, n - self.offsets[i])))
        self.init_std = init_std
        self.reset_parameters()

    # ------------------------------------------------------------------ set-up
    def reset_parameters(self) -> None:
        """torch.nn.RNN's initialisation, or N(0, init_std^2) weights and zero biases."""
        with torch.no_grad():
            if self.init_std is None:
                bound = 1.0 / math.sqrt(self.hidden_size)
                for p in self.parameters():
                    p.uniform_(-bound, bound)
            else:
                for p in self.parameters():
                    p.normal_(0.0, self.init_std)
                self.bias.zero_()

    @property
    def recurrent(self) -> list[torch.Tensor]:
        """The stored recurrent row strips, fastest module first: strip i is (k_i, k_i + ... + k_g)."""
        return [getattr(self, f"weight_hh_{i}") for i in range(len(self.periods))]

    @property
    def num_modules(self) -> int:
        return len(self.periods)

    def extra_repr(self) -> str:
        return f"input_size={self.input_size}, module_sizes={self.module_sizes}, periods={self.periods}"

    def dense_recurrent_weight(self) -> torch.Tensor:
        """The full (n, n) block upper-triangular recurrent matrix built from the stored strips.

        Its lower blocks are constant zeros; gradients flow only to the strips."""
        n = self.hidden_size
        rows = [
            nn.functional.pad(strip, (self.offsets[i], 0)) if self.offsets[i] else strip
            for i, strip in enumerate(self.recurrent)
        ]
        assert all(r.shape[1] == n for r in rows)
        return torch.cat(rows, dim=0)

    def initial_state(self, batch_size: int, device: torch.device | str | None = None,
                      dtype: torch.dtype | None = None) -> ClockworkState:
        """Zero hidden state with every clock at 0."""
        device = device if device is not None else self.bias.device
        dtype = dtype if dtype is not None else self.bias.dtype
        return ClockworkState(
            torch.zeros(batch_size, self.hidden_size, device=device, dtype=dtype),
            torch.zeros(batch_size, dtype=torch.long, device=device),
        )

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        x: torch.Tensor,
        state: ClockworkState | tuple[torch.Tensor, torch.Tensor] | None = None,
        episode_start: torch.Tensor | np.ndarray | None = None,
    ) -> tuple[torch.Tensor, ClockworkState]:
        """Run the layer over ``x`` (batch, time, input_size).

        ``state`` is a :class:`ClockworkState` (or ``(hidden, step)``) from a previous call, or None
        for zeros at clock 0. ``episode_start`` is a bool per batch row, shape (batch,) — reset
        before the first step of this call — or (batch, time) — reset before step ``t``. A reset
        row's hidden state becomes zero and its clock 0.
        """
        if x.dim() != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"x must have shape (batch, time, {self.input_size}), got {tuple(x.shape)}")
        batch, steps, _ = x.shape
        n = self.hidden_size
        if state is None:
            state = self.initial_state(batch, x.device, x.dtype)
        hidden, step = state
        if hidden.shape != (batch, n) or step.shape != (batch,):
            raise ValueError(
                f"state must be (hidden {(batch, n)}, step {(batch,)}), "
                f"got {tuple(hidden.shape)}, {tuple(step.shape)}"
            )
        clocks = step.detach().cpu().numpy().astype(np.int64).copy()
        resets = self._reset_matrix(episode_start, batch, steps)  # (batch, time) bool numpy or None
        reset_dev = None if resets is None else torch.as_tensor(resets, device=x.device)

        if steps == 0:
            return x.new_zeros(batch, 0, n), ClockworkState(hidden, step)

        weight_hh = self.dense_recurrent_weight()
        # Shared clock for the whole call: every row starts at the same clock (after any reset at
        # t = 0) and no row resets later. Then the schedule is one cached plan and no per-row mask
        # is needed; otherwise each step masks per row.
        start_clocks = clocks.copy()
        if resets is not None:
            start_clocks[resets[:, 0]] = 0
        shared = bool(np.all(start_clocks == start_clocks[0])) and (resets is None or not resets[:, 1:].any())
        if shared:
            c0 = int(start_clocks[0])
            plan = _shared_schedule(self.periods, self.module_sizes, c0 % math.lcm(*self.periods), steps)

        periods = np.asarray(self.periods, dtype=np.int64)
        # Per-step views made once: slicing x at every step would make autograd build a full-size
        # zero gradient per step; unbind's backward is one stack.
        x_steps = x.unbind(1)
        prefix: dict[int, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}

        def rows_of(rows: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
            """(bias, input weight^T, recurrent weight^T) of the first ``rows`` units, sliced once."""
            if rows not in prefix:
                prefix[rows] = (self.bias[:rows], self.weight_ih[:rows].t(), weight_hh[:rows].t())
            return prefix[rows]

        # Without autograd, steps are written straight into one (time, batch, n) buffer: no per-step
        # concatenation and no final stack. With autograd every step is a fresh tensor (saved for the
        # backward pass) and they are stacked at the end.
        tracked = torch.is_grad_enabled() and (
            weight_hh.requires_grad or self.weight_ih.requires_grad or x.requires_grad or hidden.requires_grad
        )
        buffer = None if tracked else x.new_empty(steps, batch, n)
        outputs = []
        for t in range(steps):
            if resets is not None and reset_dev is not None and resets[:, t].any():  # (both or neither None)
                zero = torch.zeros((), dtype=hidden.dtype, device=hidden.device)
                hidden = torch.where(reset_dev[:, t, None], zero, hidden)
                clocks[resets[:, t]] = 0
            # Which rows to compute (the active prefix) and, if some module inside it is idle, a mask
            # of the units to update (per unit, or per row and unit when clocks differ).
            if shared:
                rows, keep = plan[t]
                mask = None if keep is None else torch.as_tensor(keep, device=x.device)
            else:
                act = (clocks[:, None] % periods[None, :]) == 0  # (batch, g)
                a = int(np.max(np.nonzero(act.any(axis=0))[0])) + 1 if act.any() else 0
                rows = self.offsets[a]
                mask = torch.as_tensor(np.repeat(act[:, :a], self.module_sizes[:a], axis=1), device=x.device)
            if buffer is not None:
                cur = buffer[t]
                if rows:
                    fresh = cur[:, :rows]
                    b, w_in, w_rec = rows_of(rows)
                    torch.addmm(b, x_steps[t], w_in, out=fresh)  # input product: active rows only
                    fresh.addmm_(hidden, w_rec)  # recurrent product: active rows only
                    fresh.tanh_()
                    if mask is not None:
                        fresh.copy_(torch.where(mask, fresh, hidden[:, :rows]))
                if rows < n:
                    cur[:, rows:] = hidden[:, rows:]  # inactive modules: copied, bit for bit
                hidden = cur
            else:
                if rows:
                    b, w_in, w_rec = rows_of(rows)
                    fresh = torch.tanh(torch.addmm(torch.addmm(b, x_steps[t], w_in), hidden, w_rec))
                    if mask is not None:
                        fresh = torch.where(mask, fresh, hidden[:, :rows])
                    hidden = fresh if rows == n else torch.cat([fresh, hidden[:, rows:]], dim=1)
                outputs.append(hidden)
            clocks += 1
        if shared:
            clocks = np.full(batch, c0 + steps, dtype=np.int64)
        new_step = torch.as_tensor(clocks, dtype=torch.long, device=step.device)
        if buffer is not None:
            return buffer.transpose(0, 1), ClockworkState(hidden.clone(), new_step)
        # stacking along a new leading dim copies whole contiguous blocks; the (batch, time, n) result
        # is a transposed view, like torch.nn.RNN's batch_first output
        return torch.stack(outputs, dim=0).transpose(0, 1), ClockworkState(hidden, new_step)

    def _reset_matrix(self, episode_start: torch.Tensor | np.ndarray | None, batch: int,
                      steps: int) -> np.ndarray | None:
        if episode_start is None:
            return None
        es = episode_start
        if isinstance(es, torch.Tensor):
            es = es.detach().cpu().numpy()
        es = np.asarray(es).astype(bool)
        if es.shape == (batch,):
            full = np.zeros((batch, max(steps, 1)), dtype=bool)
            full[:, 0] = es
            es = full
        elif es.shape != (batch, steps):
            raise ValueError(
                f"episode_start must have shape (batch,)={(batch,)} or (batch, time)={(batch, steps)}, "
                f"got {es.shape}"
            )
        return es if es.any() else None
