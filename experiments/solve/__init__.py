"""Exact solutions of environments' MDPs for ``sandbox solve``: ``common`` (solver options), ``frozenlake``,
``stealth``. Each target is ``add_<target>_args(parser)`` and ``solve_<target>(args)``."""
