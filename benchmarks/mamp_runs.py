"""MAMP real runs on a CPU: pre-train -> linear probe -> fine-tune, against training from scratch.

    python benchmarks/mamp_runs.py --dataset utkinect --out runs/mamp_utk
    python benchmarks/mamp_runs.py --dataset world --out runs/mamp_world

Every step is a shipped preset run through the public API (``motionscope train PRESET ...``):

1. data: UTKinect-Action3D (``../shared/data/utkinect_action3d_skeleton``) converted with
   ``io.utkinect`` to the generic skeleton dataset file (odd subjects train, even test), or the
   embedded world written as NTU ``.skeleton`` files and ingested with ``motionscope prepare ntu
   --ntu120`` (x-sub: performers 1, 2, 4, 5, 8, 9 train; 3, 6, 7, 10 test);
2. ``mamp_<d>_pretrain`` on the whole training split (labels unused);
3. with only ``--label-fraction`` of the training labels (the official semi-supervised draw):
   linear probe of the pre-trained encoder and of a random one, fine-tuning from the
   pre-trained encoder and the same fine-tuning from scratch (no checkpoint, no layer decay,
   as ``script_finetune_scratch.sh``).

Accuracies are top-1 on the test split after the last epoch (no model selection on test).
Results go to ``--json`` (default ``benchmarks/results/mamp_runs_<dataset>.json``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _utk_windows(out: Path, frames: int = 48, stride: int = 8) -> str:
    """Unlabelled pre-training set: sliding windows over the training subjects' continuous
    recordings (the labelled segments are a small part of each recording)."""
    from motionscope.io.skeleton_dataset import write_skeleton_dataset
    from motionscope.io.utkinect import UTK_CLASSES, UTK_TEST_SUBJECTS, read_utkinect_joints

    path = out / "utkinect_unlabelled.npz"
    if path.is_file():
        return str(path)
    src = REPO.parent / "shared" / "data" / "utkinect_action3d_skeleton"
    samples = []
    for f in sorted(src.glob("joints_s*_e*.txt")):
        subject = int(f.stem.split("_")[1][1:])
        if subject in UTK_TEST_SUBJECTS:
            continue
        _, joints = read_utkinect_joints(f)
        for s0 in range(0, len(joints) - frames + 1, stride):
            samples.append({"keypoint": joints[None, s0:s0 + frames], "label": None,
                            "name": f"{f.stem}_{s0:05d}", "split": "train"})
    write_skeleton_dataset(path, samples, UTK_CLASSES, "kinect20",
                           meta={"source": "UTKinect-Action3D recordings, training subjects",
                                 "window": frames, "stride": stride, "labels": "none"})
    return str(path)


def _prepare(dataset: str, out: Path, world_clips: int) -> str:
    if dataset == "utkinect":
        from motionscope.io.utkinect import utkinect_to_skeleton_dataset

        root = out / "utkinect.npz"
        if not root.is_file():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the one NaN label entry of the release
                utkinect_to_skeleton_dataset(REPO.parent / "shared" / "data" /
                                             "utkinect_action3d_skeleton", root)
        return str(root)
    from motionscope.prepare import prepare
    from motionscope.synth import generate_world

    world = out / "world"
    generate_world(world, clips_per_class=world_clips, formats=("skeleton",), workers=2,
                   progress=False)
    root = out / "world_ntu"
    if not (root / "NTU120_XSub.npz").is_file():
        s = prepare("ntu", world / "skeleton", root, ntu120=True, workers=2, progress=False)
        print(f"prepared {s['samples_kept']} world clips: {s['benchmarks']}", flush=True)
    return str(root)


def _train(preset: str, overrides: list[str], run_dir: Path) -> dict:
    from motionscope import api

    results = run_dir / "results.json"
    if results.is_file():  # finished earlier: reuse (the script can be re-run to resume)
        return json.loads(results.read_text())
    t0 = time.time()
    res = api.train(preset, overrides + ["train.progress=false"], run_dir=str(run_dir))
    out = json.loads(results.read_text()) if results.is_file() else res
    out["seconds"] = round(time.time() - t0, 1)
    results.write_text(json.dumps(out, indent=1, default=float))
    print(f"{preset} -> {run_dir}: {out.get('test')}", flush=True)
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("utkinect", "world"), required=True)
    ap.add_argument("--out", required=True, help="folder for data and runs")
    ap.add_argument("--label-fraction", type=float, default=0.2)
    ap.add_argument("--pretrain-epochs", type=int, default=None)
    ap.add_argument("--epochs", type=int, default=None, help="probe/fine-tune epochs")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--world-clips", type=int, default=30, help="world clips per class")
    ap.add_argument("--layer-decay", default="preset",
                    help="fine-tune layer decay: 'preset' (0.8) or 'none'")
    ap.add_argument("--utk-pretrain", choices=("segments", "recordings"), default="segments",
                    help="UTKinect pre-training data: the labelled training segments, or "
                         "unlabelled windows of the training subjects' whole recordings")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1: best on a busy CPU)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    root = _prepare(args.dataset, out, args.world_clips)
    stem = "mamp_utkinect" if args.dataset == "utkinect" else "mamp_world_xsub"
    common = [f"data.root={root}"]
    pre_over = common + ([f"train.epochs={args.pretrain_epochs}"] if args.pretrain_epochs else [])
    if args.dataset == "utkinect" and args.utk_pretrain == "recordings":
        pre_over += [f"data.root={_utk_windows(out)}", "data.args.unlabelled=true",
                     "data.test_split=null"]
    down = common + [f"data.args.label_fraction={args.label_fraction}"] + (
        [f"train.epochs={args.epochs}"] if args.epochs else [])
    ld = [] if args.layer_decay == "preset" else ["optim.layer_decay=null"]
    t0 = time.time()
    pre = _train(f"{stem}_pretrain", pre_over, out / "pretrain")
    ckpt = out / "pretrain" / "checkpoints" / "last.pt"
    runs: dict[str, list] = {k: [] for k in ("linprobe_pretrained", "linprobe_random",
                                             "finetune_pretrained", "finetune_scratch")}
    for seed in args.seeds:
        s = [f"train.seed={seed}"]
        runs["linprobe_pretrained"].append(_train(
            f"{stem}_linprobe", down + s + [f"model.pretrained={ckpt}"], out / f"lin_pre_s{seed}"))
        runs["linprobe_random"].append(_train(
            f"{stem}_linprobe", down + s, out / f"lin_rand_s{seed}"))
        runs["finetune_pretrained"].append(_train(
            f"{stem}_finetune", down + s + ld + [f"model.pretrained={ckpt}"],
            out / f"ft_pre_s{seed}"))
        runs["finetune_scratch"].append(_train(
            f"{stem}_finetune", down + s + ["optim.layer_decay=null"], out / f"ft_scratch_s{seed}"))

    def top1(rs):
        vals = [r["test"]["top1"] for r in rs]
        return {"top1": vals, "mean": sum(vals) / len(vals)}

    result = {
        "dataset": args.dataset, "label_fraction": args.label_fraction, "seeds": args.seeds,
        "layer_decay": args.layer_decay, "pretrain_test_loss": pre.get("test"),
        "pretrain_data": args.utk_pretrain if args.dataset == "utkinect" else "world x-sub train",
        "pretrain_epochs": args.pretrain_epochs, "epochs": args.epochs,
        "accuracy": {k: top1(v) for k, v in runs.items()},
        "seconds": round(time.time() - t0, 1),
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "cpu": platform.processor() or "cpu"},
        "command": " ".join([Path(sys.argv[0]).name] + (argv or sys.argv[1:])),
    }
    path = Path(args.json or REPO / "benchmarks" / "results" / f"mamp_runs_{args.dataset}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(json.dumps(result["accuracy"], indent=1))
    return result


if __name__ == "__main__":
    main()
