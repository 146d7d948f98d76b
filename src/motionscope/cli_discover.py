"""``motionscope discover ...``: B-KinD keypoint discovery (train, extract, render, regress)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from . import api

app = typer.Typer(no_args_is_help=True, help=(
    "B-KinD self-supervised keypoint discovery: train on videos, extract keypoints (npz, "
    "DeepLabCut CSV, SLEAP analysis h5), render them, measure them against labels."))

Overrides = Annotated[list[str] | None, typer.Argument(help="dotted overrides, e.g. train.epochs=3")]


@app.command()
def train(preset: Annotated[str, typer.Argument(help="B-KinD preset (bkind_world, bkind_calms21, "
                                                     "bkind_h36m) or YAML file")],
          overrides: Overrides = None,
          run_dir: Annotated[str | None, typer.Option(help="run directory")] = None,
          resume: Annotated[str | None, typer.Option(
              help="checkpoint or run dir to resume (a finished run too, with a longer "
                   "train.epochs / train.max_steps)")] = None,
          fresh: Annotated[bool, typer.Option("--fresh", help="start a new run")] = False):
    """Train B-KinD on frame pairs (losses only); auto-resumes an interrupted run."""
    res = api.discover_train(preset, overrides, run_dir=run_dir, resume=resume, fresh=fresh)
    typer.echo(f"run directory: {res['run_dir']}")


@app.command()
def extract(ckpt: Annotated[str, typer.Argument(help="run directory, checkpoint, or official "
                                                     "B-KinD checkpoint.pth.tar")],
            inputs: Annotated[str, typer.Argument(help="video, frame folder, or folder of them")],
            out: Annotated[str, typer.Option(help="output folder")],
            boxes: Annotated[str | None, typer.Option(help=(
                "box/multi-agent mode: a box CSV (frame,track,x,y,w,h) or a SLEAP / DeepLabCut "
                "track file for one video, or a name template such as '{stem}.slp' for a "
                "folder"))] = None,
            tracks: Annotated[str | None, typer.Option(help="same as --boxes, for track "
                                                            "files")] = None,
            batch_size: Annotated[int, typer.Option(help="frames per batch")] = 32,
            official_bn: Annotated[bool, typer.Option(
                "--official-bn", help="BatchNorm in training mode on single images (the "
                "official extraction quirk)")] = False,
            image_size: Annotated[int | None, typer.Option(help="official checkpoints: input "
                                                                "size (256)")] = None,
            num_keypoints: Annotated[int | None, typer.Option(help="expected K (checked)")] = None,
            device: Annotated[str, typer.Option(help="auto, cpu, cuda")] = "auto",
            precision: Annotated[str, typer.Option(help=(
                "fp32 (the official numbers) or bf16 (autocast: ~2x on CPUs with AVX512-BF16 "
                "or AMX and on GPUs, keypoints within a few hundredths of a pixel)"))] = "fp32"):
    """Discovered keypoints of every frame, batched: per video npz + DLC CSV + SLEAP h5."""
    if boxes and tracks:
        from .errors import ConfigError

        raise ConfigError("give --boxes or --tracks, not both")
    res = api.discover_extract(ckpt, inputs, out, boxes=boxes or tracks, batch_size=batch_size,
                               official_bn_train=official_bn, image_size=image_size,
                               num_keypoints=num_keypoints, device=device, precision=precision)
    for name, files in res["videos"].items():
        typer.echo(f"{name}: {files['npz']}")
    typer.echo(f"summary: {out}/extract.json")


@app.command()
def render(track: Annotated[str, typer.Argument(help="a .npz written by extract")],
           video: Annotated[str, typer.Argument(help="its video or frame folder")],
           out: Annotated[str, typer.Option(help=".mp4, .gif or .png (a still)")],
           start: Annotated[int, typer.Option(help="first frame")] = 0,
           num: Annotated[int, typer.Option(help="number of frames")] = 300,
           fps: Annotated[float | None, typer.Option(help="frame rate (default: the video's)")]
           = None):
    """Keypoints with their covariance ellipses (2 sigma) drawn on the frames."""
    typer.echo(f"written: {api.discover_render(track, video, out, start=start, num=num, fps=fps)}")


@app.command()
def regress(keypoints: Annotated[str, typer.Argument(help="a .npz written by extract")],
            labels: Annotated[str, typer.Option(help="DeepLabCut CSV/H5, SLEAP .slp/.h5, COCO "
                                                     "JSON, or a world behaviour .npz")],
            out: Annotated[str | None, typer.Option(help="output folder")] = None,
            ridge: Annotated[float, typer.Option(help="L2 penalty (0: least squares)")] = 0.0,
            folds: Annotated[int, typer.Option(help="cross-validation folds")] = 5,
            confidence: Annotated[bool, typer.Option("--confidence", help="add confidence")] = False,
            covariance: Annotated[bool, typer.Option("--covariance", help="add covariance")] = False,
            joints: Annotated[str | None, typer.Option(help="comma-separated label names")] = None,
            match: Annotated[str, typer.Option(help="agents to label tracks: name or order")]
            = "name",
            baseline: Annotated[bool, typer.Option("--baseline", help="also the motion "
                                                   "centroid/axes baseline")] = False,
            as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False):
    """Linear read-out of labelled keypoints from discovered ones, cross-validated."""
    res = api.discover_regress(keypoints, labels, out, ridge=ridge, folds=folds,
                               with_confidence=confidence, with_covariance=covariance,
                               joints=joints.split(",") if joints else None, match=match,
                               baseline=baseline)
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for agent, r in res["agents"].items():
        for kind, m in r.items():
            typer.echo(f"{agent} {kind}: {m['error_image_pct']:.2f}% of image side, "
                       f"{m['error_pose_pct']:.1f}% of pose size, {m['error_px']:.1f} px "
                       f"({m['frames']} frames)")


@app.command()
def classify(train: Annotated[str, typer.Argument(help="folder of training tracks (.npz)")],
             test: Annotated[str, typer.Argument(help="folder of test tracks (.npz)")],
             out: Annotated[str | None, typer.Option(help="output folder")] = None,
             world: Annotated[str | None, typer.Option(help="embedded world root (its "
                                                           "behaviour labels)")] = None,
             train_labels: Annotated[str | None, typer.Option(help="CalMS21 task-1 train "
                                                                   "JSON")] = None,
             test_labels: Annotated[str | None, typer.Option(help="CalMS21 task-1 test "
                                                                  "JSON")] = None,
             past: Annotated[int, typer.Option(help="frames before t")] = 100,
             future: Annotated[int, typer.Option(help="frames after t")] = 100,
             gap: Annotated[int, typer.Option(help="window stride")] = 2,
             epochs: Annotated[int, typer.Option(help="training epochs")] = 15):
    """The CalMS21 task-1 1D-CNN on keypoints + confidence + covariance: F1 and AP."""
    res = api.discover_classify(train, test, out, world=world, train_labels=train_labels,
                                test_labels=test_labels, past=past, future=future, gap=gap,
                                epochs=epochs)
    for name, m in res["classes"].items():
        ap = "-" if m["ap"] is None else f"{m['ap']:.3f}"
        typer.echo(f"{name:16s} F1 {m['f1']:.3f}  AP {ap}  ({m['test_frames']} frames)")
    typer.echo(f"macro (without {res['macro_excludes']}): F1 {res['macro_f1']:.3f}  "
               f"AP {res['macro_ap']:.3f}")
