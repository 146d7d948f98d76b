"""The BMP result on the embedded world: train MP and RGB baselines on RGB only, evaluate all
24 BMP conditions rendered from the world's test split.

    python benchmarks/bmp_world.py                      # MP + 3D CNN (a few minutes on CPU)
    python benchmarks/bmp_world.py --models mp_world,tsm_world,cnn3d_bmp_world --seeds 42 43 44

Every model trains on the same generated world (``mp_world``'s ``data.args.world``), from the
preset's recipe with ``train.seed`` = each of ``--seeds`` (the table holds the mean per
condition, the JSON every seed's numbers); the stimuli come from ``motionscope stimuli`` on the
world's test split (``--frames`` frames per clip, the world's 64x112 frame size, ``--stim-seed``);
``motionscope bmp-eval`` scores each run. Writes ``benchmarks/results/bmp_world.json`` (every
number, the seeds and sizes), ``docs/img/bmp_world.png`` and prints the Markdown table. Nothing
is selected after the fact: the runs' best-on-validation checkpoints are what bmp-eval reads
(its rule for a run directory).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result  # noqa: E402

DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"
LABELS = {"mp_world": "MP (mp_tiny)", "enmp_world": "En-MP (tiny)",
          "cnn3d_bmp_world": "3D CNN", "tsn_world": "TSN (small ResNet)",
          "tsm_world": "TSM (small ResNet)"}


def world_overrides(preset: str, world: dict) -> list[str]:
    """Put every preset on the same world (the TSN/TSM presets default to another size)."""
    from motionscope.config import read_preset

    args = read_preset(preset)["data"]["args"]
    if "world" not in args:
        raise SystemExit(f"{preset}: not an embedded-world preset")
    return [f"data.args.world.{k}={json.dumps(v).replace(' ', '')}" for k, v in world.items()]


def run_facts(run_dir: Path) -> dict:
    """Training wall time (first to last metrics line) and steps, read from the run itself,
    so a re-run that reuses a finished run reports the same numbers."""
    lines = [json.loads(ln) for ln in (run_dir / "metrics.jsonl").read_text().splitlines() if ln]
    train = [ln for ln in lines if ln.get("split") == "train"]
    return {"train_s": round(lines[-1]["time"] - lines[0]["time"], 1) if lines else None,
            "steps": train[-1]["step"] if train else None}


def chart(rows: list[dict], models: list[str], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    from motionscope.fsutil import atomic_path
    from motionscope.stimuli.conditions import PAPER_TOP1

    names = [r["condition"] for r in rows]
    x = np.arange(len(names))
    series = [(LABELS.get(m, m), [100 * r[m] if r[m] is not None else np.nan for r in rows])
              for m in models]
    series.append(("MP (paper, NTU)", [PAPER_TOP1[n]["MP"] for n in names]))
    w = 0.8 / len(series)
    colors = ["#1f77b4", "#7f7f7f", "#2ca02c", "#9467bd", "#8c564b", "#ff7f0e"]
    fig, ax = plt.subplots(figsize=(13, 4.4))
    for i, (label, vals) in enumerate(series):
        ax.bar(x - 0.4 + w * (i + 0.5), vals, w, label=label,
               color=colors[i] if i < len(series) - 1 else "#ffbb78")
    human = [PAPER_TOP1[n]["Human"] if PAPER_TOP1[n]["Human"] is not None else np.nan
             for n in names]
    ax.plot(x, human, "k_", markersize=10, mew=2, linestyle="none", label="human (paper)")
    ax.axhline(10, color="k", lw=0.6, ls=":")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 115)
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=len(series) + 1, loc="upper center", frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def markdown(rows: list[dict], models: list[str]) -> str:
    from motionscope.stimuli.conditions import PAPER_TOP1

    head = ["condition", "clips"] + [LABELS.get(m, m) for m in models] + [
        "MP (paper)", "SlowFast (paper)", "human (paper)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for r in rows:
        p = PAPER_TOP1[r["condition"]]
        vals = ["-" if r[m] is None else f"{100 * r[m]:.1f}" for m in models]
        human = "/" if p["Human"] is None else f"{p['Human']:.1f}"
        lines.append(f"| {r['condition']} | {r['clips']} | " + " | ".join(vals) +
                     f" | {p['MP']:.1f} | {p['SlowFast']:.1f} | {human} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mp_world,cnn3d_bmp_world")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42],
                    help="train.seed of every run; with several, the table holds the mean")
    ap.add_argument("--stim-seed", type=int, default=0, help="stimulus seed (SP dots, shuffles)")
    ap.add_argument("--frames", type=int, default=8, help="frames per stimulus clip")
    ap.add_argument("--work", default="runs/bmp_world", help="runs and stimuli go here")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--extra", default="", help="extra overrides for every run, comma-separated")
    ap.add_argument("--tag", default="", help="suffix of the run folders (runs with --extra)")
    ap.add_argument("--name", default="bmp_world",
                    help="result name: benchmarks/results/NAME.json and docs/img/NAME.png")
    ap.add_argument("--no-write", action="store_true", help="do not write the result files")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    import motionscope.data.mp_cache  # noqa: F401  (registers data.name=mp_clips)
    from motionscope.config import read_preset
    from motionscope.data.video import world_root
    from motionscope.stimuli import generate_stimuli
    from motionscope.tasks.bmp import bmp_eval
    from motionscope.tasks.classify import train

    models = [m for m in a.models.split(",") if m]
    world = dict(read_preset("mp_world")["data"]["args"]["world"])
    work = Path(a.work)
    t0 = time.time()
    root = world_root(world)
    stim = work / f"stimuli_f{a.frames}_s{a.stim_seed}"
    if not (stim / "stimuli.json").is_file():
        generate_stimuli(root, stim, "all", split="test", frames=a.frames, seed=a.stim_seed,
                         workers=1, progress=False)
    t_stim = time.time() - t0
    results, runs = {}, {}
    for m, seed in ((m, seed) for seed in a.seeds for m in models):
        run_dir = work / "runs" / f"{m}{a.tag}_seed{seed}"
        over = [f"train.seed={seed}", "train.progress=false", "train.tensorboard=false",
                "data.num_workers=0"] + world_overrides(m, world) + [
                    o for o in a.extra.split(",") if o]
        if not (run_dir / "results.json").is_file():
            train(m, over, run_dir=str(run_dir))
        res = json.loads((run_dir / "results.json").read_text())
        t1 = time.time()
        ev_dir = work / "bmp" / f"{m}{a.tag}_seed{seed}"
        done = ev_dir / "bmp_results.json"
        if done.is_file() and done.stat().st_mtime > (run_dir / "results.json").stat().st_mtime:
            ev = {"rows": json.loads(done.read_text())["rows"]}  # this run on these stimuli
            t_eval = json.loads(done.read_text()).get("seconds")
        else:
            ev = bmp_eval(str(run_dir), str(stim), out=str(ev_dir), progress=False)
            t_eval = round(time.time() - t1, 1)
        cfg = read_preset(m)
        runs[f"{m}{a.tag}_seed{seed}"] = {"preset": m, "seed": seed, "model": cfg["model"]["name"],
                                   "overrides": over,
                   "epochs": cfg["train"]["epochs"], "batch_size": cfg["data"]["batch_size"],
                   **run_facts(run_dir), "bmp_eval_s": t_eval,
                   "world_test_top1": (res.get("test") or {}).get("top1"),
                   "best_val": res.get("best_val")}
        results[m, seed] = {r["condition"]: r for r in ev["rows"]}
        print(f"{m} seed {seed}: " + ", ".join(
            f"{c} {100 * r['top1']:.1f}" for c, r in results[m, seed].items()
            if r["top1"] is not None), flush=True)
    first = results[models[0], a.seeds[0]]
    per_seed = {f"{m}{a.tag}_seed{seed}": {c: r["top1"] for c, r in res.items()}
                for (m, seed), res in results.items()}
    rows = [{"condition": c, "clips": first[c]["clips"],
             **{m: _mean([results[m, seed][c]["top1"] for seed in a.seeds]) for m in models}}
            for c in first]
    table = markdown(rows, models)
    print(table)
    key = ("J-6P", "SP-8P-1LT")
    claim = {}
    perceivers = [m for m in models if m.split("_")[0] in ("mp", "enmp")]
    for mp_name in perceivers:
        for base in (m for m in models if m not in perceivers):
            claim[f"{mp_name} - {base}"] = {
                c: {"mp": r[mp_name], "baseline": r[base],
                    "margin_points": round(100 * (r[mp_name] - r[base]), 2)}
                for r in rows for c in key if r["condition"] == c}
    out = {"world": world, "world_root": str(root), "stimuli": {
        "frames": a.frames, "seed": a.stim_seed, "split": "test", "size": world["size"]},
        "seeds": a.seeds, "torch_threads": a.threads, "runs": runs, "rows": rows,
        "top1_per_seed": per_seed,
        "mp_minus_baseline": claim, "stimuli_s": round(t_stim, 1),
        "this_invocation_s": round(time.time() - t0, 1),  # finished runs are reused
        "table_md": table}
    if not a.no_write:
        write_result(a.name, out)
        chart(rows, models, DOCS_IMG / f"{a.name}.png",
              f"Embedded world, trained on RGB only (mean of seeds {', '.join(map(str, a.seeds))}); "
              f"test split rendered as the 24 BMP conditions, {a.frames} frames")


if __name__ == "__main__":
    main()
