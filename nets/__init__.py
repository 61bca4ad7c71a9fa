"""Learners and torch modules shared by every environment: exact Bellman solvers for tabular MDPs
(``nets.bellman``), and, as they land, the MLP, the clockwork RNN, controller heads, behaviour cloning
and policy-gradient learners. Device selection lives in one place, ``nets.device``."""
