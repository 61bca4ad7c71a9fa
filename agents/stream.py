"""The random stream the agents' kernels own: SplitMix64, counter-based, one stream per round (or row).

The scripted fighter (:mod:`agents.character.fighter`), the uniform random agent and every sampling
batched agent (:class:`agents.batched.RowDraws`) draw from it, so a row draws the same numbers in a
batch of one or of many.

A round's stream is a row ``(key, counter)`` of a ``(N, 2)`` uint64 array (columns :data:`KEY` and
:data:`COUNTER`). Draw number ``c`` (0-based) of key ``k`` is SplitMix64's (c + 1)-th output from state k:

    x_c = mix(k + (c + 1) * GAMMA)  (mod 2**64),  GAMMA = 0x9E3779B97F4A7C15
    mix(z): z = (z ^ z >> 30) * 0xBF58476D1CE4E5B9; z = (z ^ z >> 27) * 0x94D049BB133111EB; z ^ z >> 31

(Steele, Lea and Flood, "Fast splittable pseudorandom number generators", 2014; the same function seeds
the xoshiro generators.) A draw depends only on ``(key, counter)``: no hidden state, nothing to carry but
two integers per round, so N rounds and a batch of one draw identically. Two keys give overlapping
streams only if they differ by a multiple of GAMMA smaller than the number of draws (for random keys,
about one chance in 2**64 per pair and draw).

On top of the 64-bit outputs: :func:`uniform` (53 bits, in [0, 1)) and :func:`below` (an unbiased integer
in [0, n), by rejecting the lowest ``2**64 mod n`` outputs, then ``x mod n``).
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)

KEY, COUNTER = 0, 1  # columns of a stream row
GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (odd; 2**64 / the golden ratio)
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_2_POW_M53 = 1.0 / 9007199254740992.0  # 2**-53


@_jit
def mix64(z):
    """SplitMix64's output function (a bijection of uint64)."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@_jit
def draw_u64(key, counter):
    """Draw number ``counter`` (0-based) of stream ``key``: ``mix(key + (counter + 1) * GAMMA)``."""
    return mix64(np.uint64(key) + (np.uint64(counter) + _ONE) * GAMMA)


@_jit
def next_u64(stream, r):
    """The next 64-bit draw of round r's stream (advances its counter)."""
    c = stream[r, COUNTER]
    stream[r, COUNTER] = c + _ONE
    return draw_u64(stream[r, KEY], c)


@_jit
def uniform(stream, r):
    """A float in [0, 1) from one draw of round r: its top 53 bits times 2**-53."""
    return np.float64(next_u64(stream, r) >> _S11) * _2_POW_M53


@_jit
def below(stream, r, n):
    """An unbiased integer in [0, n) (n >= 1) from round r's stream: draws under ``2**64 mod n`` are
    rejected (for n = 36, 16 of 2**64 values), so every residue ``x mod n`` is equally likely."""
    bound = np.uint64(n)
    threshold = (np.uint64(0) - bound) % bound  # 2**64 mod n
    x = next_u64(stream, r)
    while x < threshold:
        x = next_u64(stream, r)
    return np.int64(x % bound)


@_jit
def seed_streams(stream, idx, keys):
    """Rows ``idx`` start stream ``keys[j]`` (an int in [0, 2**63)) at counter 0."""
    for j in range(idx.shape[0]):
        r = idx[j]
        stream[r, KEY] = np.uint64(keys[j])
        stream[r, COUNTER] = np.uint64(0)


def new_streams(n: int) -> np.ndarray:
    """``n`` stream rows (key 0, counter 0), to be keyed with :func:`seed_streams`."""
    return np.zeros((n, 2), dtype=np.uint64)


__all__ = ["COUNTER", "GAMMA", "KEY", "below", "draw_u64", "mix64", "new_streams", "next_u64", "seed_streams",
           "uniform"]


@_jit
def uniform_rows(stream, rows, out):
    """``out[j, h]`` = the next uniforms of row ``rows[j]``, ``out.shape[1]`` of them in order."""
    for j in range(rows.shape[0]):
        for h in range(out.shape[1]):
            out[j, h] = uniform(stream, rows[j])


@_jit
def uniform_choices(stream, active, n, start, out):
    """For every active row r: ``out[r, h] = start[h] + floor(u * n[h])`` with u r's next uniform, one per
    head h (``out`` (N, H)): a uniform choice among ``n[h]`` categories."""
    for r in range(stream.shape[0]):
        if active[r]:
            for h in range(n.shape[0]):
                k = np.int64(uniform(stream, r) * n[h])
                out[r, h] = start[h] + (k if k < n[h] else n[h] - 1)


@_jit
def mix64_array(z):
    """:func:`mix64` of every element of a uint64 array (a new array): child keys derived from seeds."""
    out = np.empty_like(z)
    for i in range(z.shape[0]):
        out[i] = mix64(z[i])
    return out
