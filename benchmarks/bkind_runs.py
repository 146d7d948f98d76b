"""B-KinD real runs: discover keypoints, extract them, and read poses out of them against the
motion baseline, on the embedded world's behaviour videos and on the real behaviour clips in
``../shared/data/behavior_videos`` (SLEAP's dance clip; two flies in box mode).

    python benchmarks/bkind_runs.py [--only world,dance,flies] [--world-steps 1500]
                                    [--dance-steps 120] [--fly-steps 100] [--work DIR]
                                    [--still docs/images/bkind_keypoints.png]

Each run trains preset ``bkind_world`` (resumable: run it again to continue a killed run), extracts
the keypoints of the held-out videos, and regresses the labelled poses from them and from the
baseline (centroid, covariance and total of the absolute frame difference) with 5-fold
contiguous cross-validation. Results are merged into ``benchmarks/results/bkind_runs.json``
(a run not asked for keeps its earlier entry).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, write_result  # noqa: E402

from motionscope import api  # noqa: E402

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "behavior_videos" / "sleap"
NOTE = ("preset bkind_world (64 px, 8 keypoints, ResNet-50 layout at 1 block/stage width 8, "
        "parameter-free perceptual fallback, SGD 1e-3, curriculum epoch 4); the paper trains 1-2 "
        "GPU days. Regression: least squares with intercept, 5-fold contiguous CV over labelled "
        "frames; error_image_pct = mean L2 over joints with x/W, y/H (official convention), "
        "error_pose_pct = / larger side of the labelled pose box. Baseline: centroid, covariance "
        "and total of the absolute grey frame difference.")


def _round(m: dict) -> dict:
    return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in m.items()}


def _common(steps: int) -> list[str]:
    # enough epochs for ``steps`` whatever the data size: max_steps ends the run
    return [f"train.max_steps={steps}", "train.epochs=1000", "train.progress=false",
            "train.tensorboard=false"]


def _train(preset: str, overrides: list[str], run_dir: Path) -> tuple[str, bool]:
    """Train (or resume) a run: (run dir, trained now); a run that finished before is used as
    it is."""
    from motionscope.engine.checkpoint import load_checkpoint

    last = run_dir / "checkpoints" / "last.pt"
    if last.is_file() and load_checkpoint(last).get("finished", False):
        return str(run_dir), False
    return api.discover_train(preset, overrides, run_dir=str(run_dir))["run_dir"], True


def _official_bn(run: str, source: str, work: Path, name: str, labels: str, boxes: str | None = None
                 ) -> dict:
    """The same read-out from keypoints extracted as the official code does (BatchNorm in
    training mode on single images): the measured effect of ``--official-bn``."""
    api.discover_extract(run, source, str(work / "kp_official_bn"), boxes=boxes,
                         official_bn_train=True)
    res = api.discover_regress(str(work / "kp_official_bn" / f"{name}.npz"), labels, None)
    return {a: _round(r["discovered"]) for a, r in res["agents"].items()
            if r["discovered"]["frames"] >= 100}


def world(work: Path, steps: int) -> dict:
    from motionscope.data.pairs import behavior_world

    root = behavior_world()
    t0 = time.time()
    run, now = _train("bkind_world", _common(steps), work / "run")
    ex = api.discover_extract(run, str(root / "behavior" / "val"), str(work / "kp"))
    videos = {}
    for name in ex["videos"]:
        kp, labels = str(work / "kp" / f"{name}.npz"), str(root / "behavior" / "keypoints" / f"{name}.npz")
        res = api.discover_regress(kp, labels, str(work / "reg" / name), baseline=True)
        videos[name] = {k: _round(m) for k, m in res["agents"]["agent0"].items()}
        # each keypoint's confidence and covariance as features too (the paper's read-outs use them)
        full = api.discover_regress(kp, labels, None, with_confidence=True, with_covariance=True)
        videos[name]["discovered_with_confidence_covariance"] = _round(full["agents"]["agent0"]["discovered"])
        bn = _official_bn(run, str(root / "behavior" / "val" / name), work, name, labels)
        videos[name]["discovered_official_bn"] = bn["agent0"]
    return {"train": f"4 train behaviour videos (192 frames, 128x128), gap 3, {steps} steps of "
                     "batch 8", "seconds": round(time.time() - t0), "trained_now": now,
            "labels": "true 2D joints (halpe26, 26 joints)", "videos": videos}


def dance(work: Path, steps: int) -> dict:
    from motionscope.io.rawframes import write_frames
    from motionscope.io.video import iter_frames

    frames = work / "frames" / "dance"
    if not frames.is_dir():
        write_frames(frames, iter_frames(SHARED / "dance.mp4"), quality=95)
    t0 = time.time()
    run, now = _train("bkind_world", _common(steps) + [
        "data.name=video_pairs", f"data.args.paths=[{frames}]", "data.args.frame_gap=3",
        "data.val_split=null"], work / "run")
    api.discover_extract(run, str(frames), str(work / "kp"))
    res = api.discover_regress(str(work / "kp" / "dance.npz"),
                               str(SHARED / "dance.mp4.labels.slp"), str(work / "reg"),
                               baseline=True)
    return {"train": f"dance.mp4 (450 frames) itself, gap 3, {steps} steps of batch 8",
            "seconds": round(time.time() - t0), "trained_now": now,
            "labels": "dance.mp4.labels.slp (17 nodes)",
            **{k: _round(m) for k, m in res["agents"]["agent0"].items()},
            "discovered_official_bn": _official_bn(run, str(frames), work, "dance",
                                                   str(SHARED / "dance.mp4.labels.slp"))["agent0"]}


def flies(work: Path, steps: int) -> dict:
    from motionscope.io.rawframes import write_frames
    from motionscope.io.video import iter_frames

    clips = {"clip": ("clip.mp4", "clip.slp"),
             "centered_pair_low_quality": ("centered_pair_low_quality.mp4",
                                           "centered_pair_predictions.h5")}
    for name, (video, _) in clips.items():
        if not (work / "frames" / name).is_dir():
            write_frames(work / "frames" / name, iter_frames(SHARED / video), quality=90)
    t0 = time.time()
    run, now = _train("bkind_world", _common(steps) + [
        "data.name=video_pairs", f"data.args.paths=[{work / 'frames' / 'clip'}]",
        f"data.args.boxes=[{SHARED / 'clip.slp'}]", "data.args.gap_seconds=0.12",
        "data.args.fps=25", "data.val_split=null"], work / "run")
    per_fly = {}
    for name, (_, tracks) in clips.items():
        api.discover_extract(run, str(work / "frames" / name), str(work / "kp"),
                             boxes=str(SHARED / tracks))
        res = api.discover_regress(str(work / "kp" / f"{name}.npz"), str(SHARED / tracks),
                                   str(work / "reg" / name), baseline=True)
        per_fly[name] = {a: {k: _round(m) for k, m in r.items()}
                         for a, r in res["agents"].items() if r["discovered"]["frames"] >= 100}
        bn = _official_bn(run, str(work / "frames" / name), work, name, str(SHARED / tracks),
                          boxes=str(SHARED / tracks))
        for a, m in bn.items():
            per_fly[name].setdefault(a, {})["discovered_official_bn"] = m
    return {"train": f"clip.mp4 in box mode (boxes from clip.slp, 2 flies), gap 0.12 s, {steps} "
                     "steps of batch 8; the same model extracts centered_pair_low_quality.mp4 "
                     "with boxes from centered_pair_predictions.h5",
            "seconds": round(time.time() - t0), "trained_now": now,
            "labels": "SLEAP's tracked poses of the same files (13 nodes clip.slp, 24 nodes "
                      "centered_pair)", "per_fly": per_fly}


def still(work: Path, out: Path, height: int = 288) -> Path | None:
    """The README picture: one frame per finished run (world, dance, flies: the square around
    both flies), keypoints and 1-sigma covariance ellipses drawn at display size, side by side."""
    import cv2
    import numpy as np

    from motionscope.data.pairs import FrameSource, behavior_world
    from motionscope.fsutil import atomic_path
    from motionscope.io.tracks import read_track_npz
    from motionscope.tasks.discover import draw_keypoints

    panels = [(work / "world" / "kp" / "video_004.npz",
               behavior_world() / "behavior" / "val" / "video_004", 60),
              (work / "dance" / "kp" / "dance.npz", work / "dance" / "frames" / "dance", 200),
              (work / "flies" / "kp" / "clip.npz", SHARED / "clip.mp4", 700)]
    tiles = []
    for kp_file, video, t in panels:
        if not kp_file.is_file():
            continue
        track = read_track_npz(kp_file)
        frame = FrameSource(video).read([t])[0]
        kp, cov = track.keypoints[:, t], track.covariance[:, t]
        if kp.shape[0] > 1:  # several agents: the square around them, not the whole arena
            pts = kp[np.isfinite(kp).all(-1)]
            c, half = (pts.min(0) + pts.max(0)) / 2, (pts.max(0) - pts.min(0)).max() * 0.9 + 20
            x0, y0 = np.maximum(np.round(c - half).astype(int), 0)
            frame = frame[y0:y0 + int(2 * half), x0:x0 + int(2 * half)]
            kp = kp - np.array([x0, y0], np.float32)
        s = height / frame.shape[0]
        frame = cv2.resize(frame, (round(frame.shape[1] * s), height),
                           interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA)
        kp = (kp + 0.5) * s - 0.5  # pixel centres at integers
        tiles += [draw_keypoints(frame, kp, cov * s * s, sigma=1.0, radius=4),
                  np.full((height, 6, 3), 255, np.uint8)]
    if not tiles:
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        cv2.imwrite(str(tmp) + ".png", cv2.cvtColor(np.hstack(tiles[:-1]), cv2.COLOR_RGB2BGR))
        Path(str(tmp) + ".png").replace(tmp)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="world,dance,flies")
    ap.add_argument("--world-steps", type=int, default=1500)
    ap.add_argument("--dance-steps", type=int, default=120)
    ap.add_argument("--fly-steps", type=int, default=100)
    ap.add_argument("--work", default="runs/bkind_runs")
    ap.add_argument("--still", default=None, help="write the README picture here (PNG)")
    a = ap.parse_args(argv)
    work = Path(a.work)
    path = RESULTS / "bkind_runs.json"
    old = json.loads(path.read_text()).get("runs", {}) if path.is_file() else {}
    runs = dict(old)
    jobs = {"world": ("world_behaviour_val", world, a.world_steps),
            "dance": ("dance", dance, a.dance_steps),
            "flies": ("flies_box_mode", flies, a.fly_steps)}
    for which in [w.strip() for w in a.only.split(",") if w.strip()]:
        if which not in jobs:
            raise SystemExit(f"--only: unknown run {which!r} (world, dance, flies)")
        key, fn, steps = jobs[which]
        if which != "world" and not SHARED.is_dir():
            print(f"skipping {which}: {SHARED} is absent")
            continue
        res = fn(work / which, steps)
        if res.get("trained_now") is False and key in old and "seconds" in old[key]:
            res["seconds"] = old[key]["seconds"]  # the time of the training run, not of the read-out
        runs[key] = res
        write_result("bkind_runs", {"note": NOTE, "runs": runs}, path)
    if a.still:
        print("still:", still(work, Path(a.still)))


if __name__ == "__main__":
    main()
