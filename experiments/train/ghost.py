"""``sandbox train ghost --demos DIR [--encoder cwrnn] [--epochs N] [--device auto] --out runs/NAME``.

Behaviour cloning of a recorded duel player (see :mod:`nets.imitation`): cross-entropy on the stick and
button heads, truncated BPTT over whole rounds, early stopping on the loss of held-out rounds. The run
folder gets ``config.json``, ``metrics.csv`` (one row per epoch), TensorBoard scalars (``tb/``),
``plots/learning_curve.png`` and ``plots/confusion.png``, ``metrics.json`` (held-out accuracies, the
majority-class baseline, confusion matrices) and ``checkpoints/ghost.pt`` + ``ghost.json``. Fight it with
``sandbox play duel --vs ghost:runs/NAME``.

``--finetune`` then fine-tunes the clone with KL-regularised RL against the opponents of the demos until
it wins about as often as the demos did (:mod:`agents.ghost.finetune`); the clone stays beside it as
``checkpoints/ghost-bc.pt``.

:mod:`experiments.train` owns the shared options (``--device --seed --out --resume --quiet``) and hands
``sandbox train ghost`` to :func:`run`; :func:`add_arguments` adds only the ghost's own options.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from nets.imitation import ENCODERS, HEADS, GhostTrainConfig


def add_arguments(parser) -> None:
    """The ghost's options (the shared ones, ``--seed`` among them, come from ``sandbox train``)."""
    from experiments.options import add_config_args

    parser.add_argument("--demos", action="append", default=None, metavar="DIR",
                        help="demo folder (or .npz round) to learn from; repeatable")
    add_config_args(parser, GhostTrainConfig, skip=("seed",), choices={"encoder": ENCODERS, "head": HEADS})
    parser.add_argument("--skip-bad", action="store_true", help="skip bad demo files with a warning")
    parser.add_argument("--finetune", action="store_true",
                        help="after cloning, fine-tune the ghost with KL-regularised RL against the demos' opponents "
                             "until it wins about as often as the demos did (keeps the clone as ghost-bc.pt)")
    parser.add_argument("--finetune-iterations", type=int, default=None, metavar="N",
                        help="fine-tuning iterations (default 12)")
    parser.add_argument("--finetune-rounds", type=int, default=None, metavar="N",
                        help="fine-tuning rounds per opponent per iteration (default 32)")


def config_from_args(args) -> GhostTrainConfig:
    from experiments.options import config_from_args as from_args

    cfg = from_args(GhostTrainConfig, args, seed=getattr(args, "seed", 0) or 0)
    periods = cfg.periods
    for name in ("epochs", "window", "batch_size", "patience", "hidden", "fc", "frame_stack"):
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1; got {getattr(cfg, name)}")
    if not periods or min(periods) < 1:
        raise ValueError(f"--periods must be positive ints; got {args.periods!r}")
    if not 0 < cfg.val_frac < 1 or not cfg.lr > 0:
        raise ValueError(f"--val-frac must be in (0, 1) and --lr > 0; got {cfg.val_frac}, {cfg.lr}")
    return cfg


GHOST_FIELDS = ("epoch", "train_loss", "val_loss", "val_stick_acc", "val_button_acc", "val_joint_acc", "seconds")


def _plots(run_dir: Path, history: list[dict], metrics: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from envs.fileio import atomic_save

    epochs = [r["epoch"] for r in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.plot(epochs, [r["train_loss"] for r in history], label="train")
    a1.plot(epochs, [r["val_loss"] for r in history], label="held-out rounds")
    a1.set(xlabel="epoch", ylabel="CE(stick) + CE(button)", title="loss")
    a1.legend()
    for key, label in (("val_stick_acc", "stick"), ("val_button_acc", "button"), ("val_joint_acc", "joint")):
        a2.plot(epochs, [r[key] for r in history], label=label)
    base = metrics["baseline"]
    for key, ls in (("stick_acc", ":"), ("button_acc", "--"), ("joint_acc", "-.")):
        a2.axhline(base[key], color="grey", ls=ls, lw=0.8)
    a2.set(xlabel="epoch", ylabel="held-out accuracy", title="accuracy (grey: majority baseline)", ylim=(0, 1))
    a2.legend()
    fig.tight_layout()
    atomic_save(run_dir / "plots" / "learning_curve.png", lambda p: fig.savefig(p, dpi=110))
    plt.close(fig)

    from envs.duel.rules import Button, Stick

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [9, 5]})
    for ax, key, names in ((axes[0], "stick_confusion", [s.name.lower() for s in Stick]),
                           (axes[1], "button_confusion", [b.name.lower() for b in Button])):
        m = np.asarray(metrics[key], dtype=float)
        m = m / np.maximum(m.sum(1, keepdims=True), 1)
        ax.imshow(m, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(names)), names, rotation=60, fontsize=7)
        ax.set_yticks(range(len(names)), names, fontsize=7)
        ax.set(xlabel="ghost", ylabel="demonstrator", title=key.replace("_", " ") + " (row-normalised)")
    fig.tight_layout()
    atomic_save(run_dir / "plots" / "confusion.png", lambda p: fig.savefig(p, dpi=110))
    plt.close(fig)


def train_ghost_run(demos, cfg: GhostTrainConfig, out: str | Path, *, device: str = "auto", progress: bool = True,
                    skip_bad: bool = False, resume: bool = False, force: bool = False, echo=print, finetune=None):
    """Train a ghost on ``demos`` into the run folder ``out``; returns the :class:`GhostTrainResult`. The
    folder is claimed with :func:`experiments.runfolder.claim_folder`: another command's folder, or a
    finished ghost without ``resume``, is refused unless ``force``. With ``finetune`` (an
    :class:`agents.ghost.finetune.FinetuneConfig`), the clone is kept as ``checkpoints/ghost-bc.pt`` and
    ``ghost.pt`` is the ghost fine-tuned towards the demos' win rates (:func:`finetune_ghost`)."""
    from agents.ghost import DemoDataset, load_ghost, save_ghost
    from experiments.train.run import Run
    from nets.device import describe, resolve_device
    from nets.imitation import config_dict, train_ghost

    run_dir = Path(out)
    dataset = DemoDataset(demos, skip_bad=skip_bad)
    dev = resolve_device(device)
    if finetune is not None:  # a bad opponent for fine-tuning fails before any training
        from agents.ghost.finetune import check_opponents

        check_opponents(dataset.opponents)
    config = {"kind": "ghost", "demos": [str(d) for d in demos], "rounds": len(dataset), "steps": dataset.steps,
              "frame_skip": dataset.frame_skip, "opponents": dataset.opponents, "device": str(dev),
              "train": config_dict(cfg), "skipped": [[str(p), r] for p, r in dataset.skipped]}
    run = Run.start(run_dir, "train ghost", config, GHOST_FIELDS, resume=resume, force=force, progress=progress,
                    latest="ghost")
    init, first_epoch = None, 0
    ckpt = run_dir / "checkpoints" / "ghost.pt"
    if run.resumed:  # continue from the checkpoint's weights; the epochs count on from its rows
        model, meta = load_ghost(run.resume_from)
        if meta["model"] != cfg.model_config(**dataset.sizes):
            raise ValueError(f"--resume: {run.resume_from} has model config {meta['model']}, the options ask for "
                             f"{cfg.model_config(**dataset.sizes)}")
        init = model.state_dict()
        first_epoch = int(run.rows[-1]["epoch"]) if run.rows else 0
    echo(f"ghost: {len(dataset)} rounds ({dataset.steps} decisions, frame_skip {dataset.frame_skip}) from "
         f"{', '.join(map(str, demos))}; {len(dataset.skipped)} skipped; encoder {cfg.encoder}; device {describe(dev)}")

    def on_epoch(row: dict) -> None:  # metrics.csv and TensorBoard (metrics/COLUMN against the epoch)
        run.log({**row, "epoch": first_epoch + int(row["epoch"])})

    t0 = time.perf_counter()
    with run:
        res = train_ghost(dataset, cfg, device=dev, progress=progress, on_epoch=on_epoch, init_state_dict=init)
    seconds = time.perf_counter() - t0
    # ---- checkpoint, final metrics, plots
    m = res.metrics
    summary = {k: m[k] for k in ("loss", "stick_acc", "button_acc", "joint_acc", "steps")}
    summary["baseline"] = m["baseline"]
    last_epoch = first_epoch + len(res.history)
    run.checkpoint("ghost", lambda p: save_ghost(res.model, p, frame_skip=dataset.frame_skip, best_epoch=res.best_epoch,
                                                 trained_on=[str(d) for d in demos], opponents=dataset.opponents,
                                                 heldout=summary, player=dataset.rounds[0].meta.get("player")),
                   last_epoch)
    ft = None
    if finetune is not None:
        # ---- fine-tuning: the clone stays beside it as ghost-bc.pt
        import dataclasses

        from agents.ghost.finetune import finetune_ghost, target_win_rates

        save_ghost(res.model, ckpt.with_name("ghost-bc.pt"), frame_skip=dataset.frame_skip, best_epoch=res.best_epoch,
                   trained_on=[str(d) for d in demos], opponents=dataset.opponents, heldout=summary)
        targets = target_win_rates(dataset.rounds)
        fcfg = dataclasses.replace(finetune, frame_skip=dataset.frame_skip,
                                   round_seconds=float(dataset.rounds[0].meta.get("round_seconds", 60.0)))
        echo("fine-tuning towards the demos' win rates: " + ", ".join(f"{o} {v:.2f}" for o, v in targets.items()))
        fr = finetune_ghost(res.model, targets, fcfg, echo=echo)
        ft = {"lambda": fr.lam, "best_iteration": fr.best_iteration, "targets": targets,
              "history": [{k: v for k, v in h.items() if k != "update"} for h in fr.history]}
        save_ghost(fr.model, ckpt, frame_skip=dataset.frame_skip, best_epoch=res.best_epoch,
                   trained_on=[str(d) for d in demos], opponents=dataset.opponents, heldout=summary,
                   player=dataset.rounds[0].meta.get("player"),
                   finetune={k: v for k, v in ft.items() if k != "history"})
        res.model = fr.model
        echo(f"fine-tuned: iteration {fr.best_iteration} kept (made with lambda {fr.lam}); clone kept as "
             f"{ckpt.with_name('ghost-bc.pt')}")
    run.finish()
    final = {**m, "best_epoch": res.best_epoch, "epochs_run": len(res.history), "stopped_early": res.stopped_early,
             "train_rounds": len(res.train_idx), "val_rounds": len(res.val_idx), "seconds": round(seconds, 2),
             "sequences_per_second": res.sequences_per_second}
    if ft is not None:
        final["finetune"] = ft
    run.write_json("metrics.json", final)
    _plots(run_dir, res.history, m)
    b = m["baseline"]
    echo(f"{'held-out':<10}{'stick':>8}{'button':>8}{'joint':>8}")
    echo(f"{'ghost':<10}{m['stick_acc']:>8.3f}{m['button_acc']:>8.3f}{m['joint_acc']:>8.3f}")
    echo(f"{'majority':<10}{b['stick_acc']:>8.3f}{b['button_acc']:>8.3f}{b['joint_acc']:>8.3f}")
    echo(f"best epoch {res.best_epoch}/{len(res.history)}, {seconds:.1f} s, {res.sequences_per_second:.0f} seq/s; "
         f"checkpoint {ckpt}")
    return res


def run(args: argparse.Namespace) -> int:
    demos = getattr(args, "demos", None)
    if not demos:
        raise ValueError("sandbox train ghost needs --demos DIR (record some with `sandbox record duel`)")
    from experiments.train.trainers import check_run_numbers

    check_run_numbers(seed=getattr(args, "seed", None))
    cfg = config_from_args(args)
    ft = None
    if getattr(args, "finetune", False):
        from agents.ghost.finetune import FinetuneConfig

        ft = FinetuneConfig(seed=cfg.seed)
        for name in ("iterations", "rounds"):
            value = getattr(args, f"finetune_{name}", None)
            if value is not None:
                if value < (0 if name == "iterations" else 1):
                    raise ValueError(f"--finetune-{name} must be >= {0 if name == 'iterations' else 1}; got {value}")
                setattr(ft, name, value)
    elif getattr(args, "finetune_iterations", None) is not None or getattr(args, "finetune_rounds", None) is not None:
        raise ValueError("--finetune-iterations and --finetune-rounds need --finetune")
    out = getattr(args, "out", None) or str(Path("runs") / f"ghost-{Path(demos[0]).name or 'demos'}")
    train_ghost_run(demos, cfg, out, device=getattr(args, "device", "auto") or "auto",
                    progress=not getattr(args, "quiet", False), skip_bad=args.skip_bad,
                    resume=bool(getattr(args, "resume", False)), force=bool(getattr(args, "force", False)), finetune=ft)
    print(f"agent: ghost:{out}", flush=True)  # the spec of what was trained, --quiet or not
    return 0
