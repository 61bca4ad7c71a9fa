"""Ray for the sandbox: local by default, a cluster when asked, and one-line errors for both.

* No ``--address``: Ray starts on this machine (its cores, loopback only, no dashboard); nothing else is
  needed. A Ray already started in this process (a test fixture, a notebook) is used as it is.
* ``--address auto`` joins the cluster this machine is part of (``ray start`` ran here), and says which (its
  address, nodes, CPUs and GPUs, on stderr, ``--quiet`` or not: it may be someone else's); ``--address
  HOST:PORT`` joins the head at HOST:PORT (the GCS port, 6379 unless ``ray start --head --port`` said
  otherwise). Before Ray is asked, a TCP probe with a short timeout checks that something listens there,
  so an unreachable head fails in seconds, not after Ray's minutes of retries.

Every failure is a :class:`RayError` (a ``ValueError``): the CLI prints it as one line with exit status 2.
"""

from __future__ import annotations

import os
import socket
import sys

INSTALL_HINT = "pip install -e '.[ray]'"
PROBE_SECONDS = 3.0  # how long an --address may take to answer a TCP connect


class RayError(ValueError):
    """Ray is missing, or the cluster cannot be reached: one line for the user."""


def require_ray():
    """The ``ray`` module, or a :class:`RayError` naming the extra that installs it."""
    try:
        import ray
        import ray.rllib  # noqa: F401  (the extra installs both; a half install fails here, not mid-run)
        import ray.tune  # noqa: F401
    except ImportError as exc:
        raise RayError(f"Ray is not installed ({exc.name or exc}); install the extra: {INSTALL_HINT}") from None
    return ray


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``ray://HOST:PORT``) -> (host, port); a :class:`RayError` for anything else."""
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RayError(f"--address {address!r}: expected auto or HOST:PORT (e.g. 10.0.0.5:6379)")
    return host.strip("[]"), int(port)


def probe(host: str, port: int, timeout: float = PROBE_SECONDS) -> None:
    """A :class:`RayError` unless a TCP connect to ``host:port`` succeeds within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise RayError(f"--address {host}:{port}: no Ray head reachable ({reason} within {timeout:g} s); "
                       f"start one with `ray start --head --port={port}` there, or drop --address to run "
                       f"locally") from None


def init(address: str | None = None, num_cpus: int | None = None) -> dict:
    """Start or join Ray; returns ``{"address", "local", "cpus"}`` describing where the run goes.

    ``address`` None: a local Ray with ``num_cpus`` CPUs (default: this machine's count). Else ``auto`` or
    ``HOST:PORT``, probed first (see the module docstring)."""
    ray = require_ray()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no phoning home from a sandbox run
    if address not in (None, "auto"):
        probe(*parse_address(address))
    if ray.is_initialized():
        return _describe(ray, local=address is None)
    common = {"include_dashboard": False, "log_to_driver": False, "ignore_reinit_error": True,
              "configure_logging": True, "logging_level": "ERROR"}
    if address is None:
        cpus = int(num_cpus or os.cpu_count() or 1)
        # address="local": always a new Ray of this process's own, even where `ray start` left one running
        try:
            ray.init(address="local", num_cpus=cpus, _node_ip_address="127.0.0.1", **common)
        except Exception as exc:  # Ray raises a bare Exception when its processes do not come up in time
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RayError(f"Ray could not start on this machine ({first}); on a busy machine try again, or join "
                           "a running Ray with --address") from None
        return _describe(ray, local=True)
    try:
        ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, TimeoutError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = "run `ray start --head` on this machine first, or name the head as HOST:PORT" \
            if address == "auto" else "is it a Ray head (`ray start --head`) of the same Ray version?"
        raise RayError(f"--address {address}: cannot join the cluster ({first}); {hint}") from None
    where = _describe(ray, local=False)
    # joining a cluster is never silent: which one, and how big (it may be someone else's)
    print(f"ray: --address {address} joined the cluster at {where['address']}: {where['nodes']} node(s), "
          f"{where['cpus']} CPUs, {where['gpus']} GPUs", file=sys.stderr, flush=True)
    return where


def _describe(ray, local: bool) -> dict:
    resources = ray.cluster_resources()
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return {"address": "local" if local else ray.get_runtime_context().gcs_address,
            "local": local, "nodes": nodes, "cpus": int(resources.get("CPU", 0)), "gpus": int(resources.get("GPU", 0))}


def shutdown_if_started(started: bool) -> None:
    """Shut Ray down if this run started it (a Ray the caller started stays up)."""
    if started:
        import ray

        ray.shutdown()
