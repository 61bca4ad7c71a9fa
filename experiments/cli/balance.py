"""``sandbox balance``: the tester AI's report on the duel's rules: the meta of a population of strategies
(payoff matrix, Nash mixture, exploitability, dominance) and the combo search. The work is in
:mod:`experiments.evaluate.balance` (and :mod:`agents.balance`). Prints a table, then one JSON line."""

from __future__ import annotations


def add_parser(subparsers) -> None:
    from experiments.cli import add_force
    from experiments.evaluate.balance import BalanceConfig
    from experiments.options import add_config_args

    p = subparsers.add_parser("balance", help="the tester AI: payoff matrix, Nash, exploitability, combos",
                              description="A balance probe of the duel: the payoff matrix of a population of "
                                          "strategies with its Nash mixture, exploitability and dominance flags, "
                                          "and a combo search for strings no defender escapes. Writes report.md, "
                                          "payoff.png and balance.json into --out.")
    add_config_args(p, BalanceConfig)
    add_force(p)
    p.set_defaults(run=run)


def run(args) -> int:
    import json
    from pathlib import Path

    from experiments.evaluate.balance import BalanceConfig, check_config, print_table, run_balance
    from experiments.options import config_from_args
    from experiments.runfolder import claim_folder, set_status

    cfg = config_from_args(BalanceConfig, args)
    check_config(cfg)
    claim_folder(cfg.out, "balance", rerun=True, force=args.force, create=False)  # created once the input is good
    done = False
    try:
        result = run_balance(cfg)
        done = True
    finally:
        if Path(cfg.out).is_dir():
            set_status(cfg.out, "complete" if done else "incomplete", "balance")
    print_table(result)
    print(json.dumps(result, separators=(",", ":")))
    return 0
