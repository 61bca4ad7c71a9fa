"""Studies behind ``sandbox compare``: learners against the optimum (``stealth``), win rates and the Elo ladder
(``duel``, ``elo``, ``duel_ladder``), directors (``director``), ghost fidelity (``ghost``), the CW-RNN paper
reproduction (``cwrnn_sequence``), and what they share (``common``).

May import envs, nets, agents and the other experiments packages.
"""
