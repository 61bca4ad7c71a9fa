"""`sandbox solve frozenlake`: the printed optimum is the known one."""

from experiments.cli import main


def test_solve_frozenlake_prints_value_grid_and_arrows(capsys):
    assert main(["solve", "frozenlake", "--gamma", "0.99"]) == 0
    out = capsys.readouterr().out
    assert "V*(start) = 0.542026" in out
    grid = out.split("optimal policy")[1].splitlines()[1:5]
    assert [row.split() for row in grid] == [
        ["\u2190", "\u2191", "\u2191", "\u2191"],
        ["\u2190", "H", "\u2190", "H"],
        ["\u2191", "\u2193", "\u2190", "H"],
        ["H", "\u2192", "\u2193", "G"],
    ]


def test_solve_deterministic_8x8_start_value_is_gamma_to_the_13(capsys):
    # Without slip the shortest safe route on the 8x8 map takes 14 moves; the goal pays 1 at the end.
    assert main(["solve", "frozenlake", "--map", "8x8", "--no-slip", "--gamma", "0.9", "--method", "pi"]) == 0
    out = capsys.readouterr().out
    assert f"V*(start) = {0.9**13:.6f}" in out


def test_bad_gamma_is_one_line_error(capsys):
    assert main(["solve", "frozenlake", "--gamma", "1.5"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "sandbox solve: error: gamma = 1.5 is outside [0, 1]"
