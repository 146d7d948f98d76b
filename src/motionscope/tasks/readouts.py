"""Read-outs of discovered keypoints: how much pose they carry (linear regression to labelled
keypoints, cross-validated), and a simple baseline to compare them with.

Pose regression: features per frame (discovered keypoints, optionally + confidence and
covariance) -> labelled keypoints, least squares with an intercept (``ridge`` > 0 adds an L2
penalty on standardised features), fitted per labelled joint on the frames where that joint
is labelled, evaluated by K-fold cross-validation over the labelled frames in contiguous blocks
(neighbouring frames are nearly equal: shuffled folds would leak). Error = mean over labelled
joints of the L2 distance in pixels, divided by a stated size and averaged over frames:
``image`` (the official convention: x by the frame width, y by its height, i.e. in units of the
image side), and ``pose`` (the larger side of the frame's labelled pose box).

Baseline: the motion centroid and principal axes of the absolute frame difference (its
weighted mean, covariance and total) per frame or per agent box - what any tracker of "where
something moved" gives without learning.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from ..errors import ConfigError, DataError

__all__ = ["fit_least_squares", "pose_regression", "labels_for_track", "motion_baseline",
           "regress"]


def fit_least_squares(X: np.ndarray, Y: np.ndarray, ridge: float = 0.0) -> tuple:
    """``(mean, scale, W)`` of ``Y ~ [1, (X - mean) / scale] @ W`` (ridge on the non-constant
    columns)."""
    mu = X.mean(0)
    sd = X.std(0)
    sd[sd < 1e-9] = 1.0
    Z = np.concatenate([np.ones((len(X), 1)), (X - mu) / sd], 1)
    A = Z.T @ Z
    if ridge > 0:
        A = A + float(ridge) * len(X) * np.diag(np.r_[0.0, np.ones(Z.shape[1] - 1)])
    W = np.linalg.lstsq(A, Z.T @ Y, rcond=None)[0]
    return mu, sd, W


def _predict(model, X):
    mu, sd, W = model
    return np.concatenate([np.ones((len(X), 1)), (X - mu) / sd], 1) @ W


def pose_regression(features: np.ndarray, targets: np.ndarray, image_size: tuple[int, int],
                    *, ridge: float = 0.0, folds: int = 5) -> dict:
    """Cross-validated regression error of ``features (N, D)`` -> ``targets (N, J, 2)`` pixels
    (NaN = not labelled); frames with non-finite features are left out. See the module doc."""
    X = np.asarray(features, np.float64)
    Y = np.asarray(targets, np.float64)
    keep = np.isfinite(X).all(1) & np.isfinite(Y).all(-1).any(1)
    X, Y = X[keep], Y[keep]
    N, J = Y.shape[:2]
    if N < max(folds, 2) * 2:
        raise DataError(None, f"only {N} labelled frames with features: too few for {folds}-fold "
                              "cross-validation")
    pred = np.full_like(Y, np.nan)
    bounds = np.linspace(0, N, folds + 1).astype(int)
    for f in range(folds):
        test = np.zeros(N, bool)
        test[bounds[f]:bounds[f + 1]] = True
        for j in range(J):
            ok = np.isfinite(Y[:, j]).all(-1)
            tr = ok & ~test
            if tr.sum() < 2:
                continue
            m = fit_least_squares(X[tr], Y[tr, j], ridge)
            te = ok & test
            if te.any():
                pred[te, j] = _predict(m, X[te])
    H, W = image_size
    d = pred - Y
    err_img = np.sqrt((d[..., 0] / W) ** 2 + (d[..., 1] / H) ** 2)
    lo, hi = np.nanmin(Y, 1), np.nanmax(Y, 1)
    pose = np.maximum((hi - lo).max(-1), 1.0)
    err_px = np.sqrt((d ** 2).sum(-1))
    import warnings

    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames whose joints were never fitted
        per_img = np.nanmean(err_img, 1)
        per_pose = np.nanmean(err_px / pose[:, None], 1)
        per_px = np.nanmean(err_px, 1)
    return {"frames": int(np.isfinite(per_img).sum()), "joints": J, "folds": folds,
            "ridge": ridge, "features": int(X.shape[1]),
            "error_image_pct": float(np.nanmean(per_img) * 100),
            "error_pose_pct": float(np.nanmean(per_pose) * 100),
            "error_px": float(np.nanmean(per_px))}


def _frame_numbers(names: list[str] | None, T: int) -> np.ndarray:
    if not names:
        return np.arange(T)
    nums = []
    for n in names:
        m = re.search(r"(\d+)(?!.*\d)", Path(str(n)).name)
        if m is None:
            return np.arange(T)
        nums.append(int(m.group(1)))
    return np.asarray(nums)


def read_labels(path: str | os.PathLike):
    """``(keypoints (M, T, J, 2), frame index per T, joint names, track names)`` of a label
    file: DeepLabCut CSV/H5, SLEAP .slp/.h5, COCO JSON, or the world's behaviour ``.npz``."""
    path = Path(path)
    if path.suffix.lower() == ".npz":
        try:
            with np.load(path, allow_pickle=False) as d:
                kp = np.asarray(d["keypoints"], np.float32)
                names = [str(n) for n in d["joint_names"]] if "joint_names" in d else None
                vis = d["visible"] if "visible" in d else None
        except (OSError, KeyError, ValueError) as e:
            raise DataError(path, f"not a keypoint .npz ({e})") from None
        if kp.ndim == 3:
            kp = kp[None]
        if vis is not None and vis.shape == kp.shape[1:3]:
            pass  # occluded joints are still true positions
        return kp, np.arange(kp.shape[1]), names, None
    from ..io.keypoints import read_keypoints

    kps = read_keypoints(path)
    return kps.keypoints, _frame_numbers(kps.frame_names, kps.num_frames), kps.joint_names, \
        kps.track_names


def labels_for_track(track, label_path, joints: list[str] | None = None,
                     match: str = "name") -> list[tuple[str, np.ndarray]]:
    """Per discovered agent, its labelled keypoints ``(T, J, 2)`` on the track's frames.

    Bad input, each one error naming the label file: labelled frames past the video; ``joints``
    not in the file (its names are listed); several agents whose names are not the file's
    tracks (``match="order"`` pairs them in order instead)."""
    kp, fidx, jnames, tnames = read_labels(label_path)
    T = track.num_frames
    if len(fidx) and int(np.max(fidx)) >= T and np.isfinite(kp[:, fidx >= T]).any():
        raise DataError(label_path, f"labels frames up to {int(np.max(fidx))} but the video of the "
                                    f"track has {T} frames (0..{T - 1}): labels of another video?")
    if joints:
        have = jnames or []
        miss = [j for j in joints if j not in have]
        if miss:
            raise DataError(label_path, f"has no keypoints named {miss} (its names: {have})")
        kp = kp[:, :, [have.index(j) for j in joints]]
    dense = np.full((kp.shape[0], T, kp.shape[2], 2), np.nan, np.float32)
    ok = fidx < T
    dense[:, fidx[ok]] = kp[:, ok]
    names = track.names()
    if track.num_agents == 1 and track.track_names is None:
        if dense.shape[0] != 1:
            labelled = np.isfinite(dense[..., 0]).any(-1).sum(1)
            dense = dense[[int(np.argmax(labelled))]]
        return [(names[0], dense[0])]
    if match == "order":
        if dense.shape[0] < track.num_agents:
            raise DataError(label_path, f"has {dense.shape[0]} tracks for {track.num_agents} agents")
        return [(n, dense[m]) for m, n in enumerate(names)]
    tn = tnames or []
    common = [n for n in names if n in tn]
    if not common:
        raise DataError(label_path, f"its tracks {tn} share no name with the discovered agents "
                                    f"{names} (match='order' pairs them in order)")
    return [(n, dense[tn.index(n)]) for n in common]


def motion_baseline(source, boxes: np.ndarray | None = None) -> np.ndarray:
    """``(M, T, 6)`` per frame (and agent box): centroid x, y, covariance xx, xy, yy and total
    of the absolute grey frame difference to the previous frame (frame 0: to frame 1)."""
    import cv2

    prev = None
    rows = []
    for f in source.iter_frames():
        g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32)
        if prev is None:
            prev = g
            rows.append(None)
            continue
        rows.append(np.abs(g - prev))
        prev = g
    if len(rows) > 1:
        rows[0] = rows[1]
    T = len(rows)
    M = 1 if boxes is None else boxes.shape[0]
    out = np.full((M, T, 6), np.nan, np.float64)
    H, W = rows[0].shape
    ys, xs = np.mgrid[0:H, 0:W].astype(np.float64)
    for t, d in enumerate(rows):
        for m in range(M):
            if boxes is None:
                sl = (slice(None), slice(None))
            else:
                b = boxes[m, t] if t < boxes.shape[1] else np.full(4, np.nan)
                if not np.isfinite(b).all():
                    continue
                x0, y0 = max(int(b[0]), 0), max(int(b[1]), 0)
                x1, y1 = min(int(b[2]) + 1, W), min(int(b[3]) + 1, H)
                if x1 <= x0 or y1 <= y0:
                    continue
                sl = (slice(y0, y1), slice(x0, x1))
            w = d[sl].astype(np.float64)
            s = w.sum()
            if s <= 0:
                w, s = np.ones_like(w), float(w.size)
            cx, cy = (w * xs[sl]).sum() / s, (w * ys[sl]).sum() / s
            dx, dy = xs[sl] - cx, ys[sl] - cy
            out[m, t] = [cx, cy, (w * dx * dx).sum() / s, (w * dx * dy).sum() / s,
                         (w * dy * dy).sum() / s, s / w.size]
    return out


def regress(keypoints: str | os.PathLike, labels: str | os.PathLike, out_dir=None, *,
            ridge: float = 0.0, folds: int = 5, with_confidence: bool = False,
            with_covariance: bool = False, joints: list[str] | None = None,
            match: str = "name", baseline: bool = False, video: str | None = None) -> dict:
    """Pose regression of a discovered track (``.npz``) against a label file, per agent; with
    ``baseline`` also the motion-baseline features of ``video`` (default: the track's video)."""
    from ..io.tracks import read_track_npz

    if folds < 2:
        raise ConfigError(f"--folds must be >= 2, got {folds}")
    track = read_track_npz(keypoints)
    per = labels_for_track(track, labels, joints, match)
    size = track.image_size
    if size is None:
        from ..data.pairs import FrameSource, _imread

        src = FrameSource(video or track.video)
        size = src.size if src.kind == "video" else _imread(src.path / src.files[0]).shape[:2]
    feats = track.features(with_confidence, with_covariance)
    base = None
    if baseline:
        from ..data.pairs import FrameSource

        b = None
        src = FrameSource(video or track.video)
        if track.track_names is not None:
            from ..io.boxes import boxes_from_keypoints

            b = boxes_from_keypoints(track.keypoints, padding=0.25)
        base = motion_baseline(src, b)
    names = track.names()
    results = {}
    skipped = {}
    for n, Y in per:
        m = names.index(n)
        try:  # a short track fragment (a few frames) is skipped, said in the result
            r = {"discovered": pose_regression(feats[m], Y, size, ridge=ridge, folds=folds)}
        except DataError as e:
            if len(per) == 1:
                raise DataError(labels, f"agent {n!r}: {e.problem}") from None
            skipped[n] = e.problem
            continue
        if base is not None:
            r["baseline"] = pose_regression(base[m], Y, size, ridge=ridge, folds=folds)
        results[n] = r
    if not results:
        raise DataError(labels, f"no agent has enough labelled frames: {skipped}")
    res = {"keypoints": str(keypoints), "labels": str(labels), "image_size": list(size),
           "agents": results, "skipped": skipped}
    if out_dir is not None:
        import json

        from ..fsutil import atomic_write_text

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(out_dir) / "regression.json", json.dumps(res, indent=2))
    return res


# ----------------------------------------------------------------------------- behaviour
def frame_windows(features: np.ndarray, past: int = 100, future: int = 100,
                  gap: int = 2) -> np.ndarray:
    """``(T, F)`` -> ``(T, past + future + 1, F)``: ``past`` and ``future`` sampled frames at
    stride ``gap`` around t (frames t - past*gap ... t + future*gap), zero-padded at the ends:
    the CalMS21 task-1 baseline's windows (100, 100, 2: 201 frames spanning t +- 200)."""
    x = np.nan_to_num(np.asarray(features, np.float32))
    T = len(x)
    offs = np.arange(-past * gap, future * gap + 1, gap)
    idx = np.arange(T)[:, None] + offs[None]
    ok = (idx >= 0) & (idx < T)
    out = x[np.clip(idx, 0, T - 1)]
    out[~ok] = 0
    return out


def _conv1d_classifier(length: int, channels: int, num_classes: int, widths=(128, 64, 32)):
    """The task-1 baseline: BN -> 3 x [Conv1D(k5, valid) -> BN -> ReLU -> MaxPool(2) ->
    Dropout(0.5)] -> Flatten -> Linear (softmax in the loss)."""
    from torch import nn

    layers: list = [nn.BatchNorm1d(channels, eps=1e-3, momentum=0.01)]
    c, L = channels, length
    for w in widths:
        layers += [nn.Conv1d(c, w, 5), nn.BatchNorm1d(w, eps=1e-3, momentum=0.01), nn.ReLU(),
                   nn.MaxPool1d(2, 2), nn.Dropout(0.5)]
        c, L = w, (L - 4) // 2
    if L < 1:
        raise ConfigError(f"a window of {length} frames is too short for the 1D-CNN (it needs >= 46)")
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(c * L, num_classes))


def behaviour_classification(train: list[tuple[np.ndarray, np.ndarray]],
                             test: list[tuple[np.ndarray, np.ndarray]], classes: list[str], *,
                             other: str | None = "other", past: int = 100, future: int = 100,
                             gap: int = 2, epochs: int = 15, batch_size: int = 128,
                             lr: float = 1e-3, seed: int = 42) -> dict:
    """Train the 1D-CNN on per-frame features ``(T, F)`` with labels ``(T,)`` (0..C-1; -1 =
    unlabelled, left out) and report per-class F1 and AP (one-vs-rest, softmax scores) on
    ``test``, and their macro averages over the classes except ``other``."""
    import torch
    from sklearn.metrics import average_precision_score, f1_score

    def windows(seqs):
        xs, ys = [], []
        for f, y in seqs:
            w = frame_windows(f, past, future, gap)
            keep = np.asarray(y) >= 0
            xs.append(w[keep])
            ys.append(np.asarray(y)[keep])
        return np.concatenate(xs), np.concatenate(ys)

    Xtr, ytr = windows(train)
    Xte, yte = windows(test)
    C = len(classes)
    if not len(Xtr) or not len(Xte):
        raise DataError(None, "no labelled frames to train or test the behaviour classifier on")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = _conv1d_classifier(Xtr.shape[1], Xtr.shape[2], C)
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=1e-7)
    xt = torch.from_numpy(Xtr).transpose(1, 2).contiguous()
    yt = torch.from_numpy(ytr)
    for _ in range(int(epochs)):
        model.train()
        for b in torch.randperm(len(xt), generator=g).split(int(batch_size)):
            if len(b) < 2:
                continue
            loss = torch.nn.functional.cross_entropy(model(xt[b]), yt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        prob = torch.cat([model(x).softmax(-1) for x in
                          torch.from_numpy(Xte).transpose(1, 2).contiguous().split(512)]).numpy()
    pred = prob.argmax(1)
    f1 = f1_score(yte, pred, labels=list(range(C)), average=None, zero_division=0)
    per = {}
    for c, name in enumerate(classes):
        ap = float(average_precision_score(yte == c, prob[:, c])) if (yte == c).any() else None
        per[name] = {"f1": float(f1[c]), "ap": ap, "test_frames": int((yte == c).sum())}
    scored = [n for n in classes if n != other and per[n]["test_frames"] > 0]
    return {"classes": per, "macro_f1": float(np.mean([per[n]["f1"] for n in scored])),
            "macro_ap": float(np.mean([per[n]["ap"] for n in scored])),
            "macro_excludes": other, "train_frames": int(len(ytr)), "test_frames": int(len(yte)),
            "window": int(Xtr.shape[1])}


def track_features(track, image_size: tuple[int, int] | None = None) -> np.ndarray:
    """``(T, K * 6)`` classifier features of a one-agent track: keypoints / image side, the
    confidence, the covariance in grid units ((side / 2)^2), as the official conversion."""
    H, W = image_size or track.image_size or (1, 1)
    kp = track.keypoints[0] / np.array([W, H], np.float32)
    cov = track.covariance[0] / np.array([(W / 2) ** 2, (W / 2) * (H / 2), (H / 2) ** 2],
                                         np.float32)
    f = np.concatenate([kp, track.confidence[0][..., None], cov], -1)
    return f.reshape(len(f), -1)


def _track_labels_world(kp_dir: Path, world: Path, split: str):
    """(features, labels) per behaviour video of ``split`` of a world, from ``kp_dir/<name>.npz``;
    labels -1 (no action) become the class ``other``."""
    import json

    from ..data.pairs import world_behavior_entries
    from ..io.tracks import read_track_npz

    man = json.loads((world / "manifest.json").read_text(encoding="utf-8"))
    names = [c["key"] for c in man["classes"]] + ["other"]
    out = []
    for e in world_behavior_entries(world, split):
        p = kp_dir / f"{e['name']}.npz"
        if not p.is_file():
            raise DataError(p, f"no discovered keypoints for {e['name']} (run discover extract "
                               f"on {e['frames_dir']})")
        tr = read_track_npz(p)
        with np.load(e["keypoints"], allow_pickle=False) as d:
            y = np.asarray(d["labels"], np.int64)
        if len(y) != tr.num_frames:
            raise DataError(p, f"track has {tr.num_frames} frames, {e['keypoints']} labels {len(y)}")
        out.append((track_features(tr, tuple(man["config"]["size"])),
                    np.where(y < 0, len(names) - 1, y)))
    return out, names


def _track_labels_calms21(kp_dir: Path, labels: Path):
    from ..io.calms21 import read_calms21
    from ..io.tracks import read_track_npz

    d = read_calms21(labels)
    names = [n for n, _ in sorted(d["vocab"].items(), key=lambda kv: kv[1])]
    out = []
    for sid, s in d["sequences"].items():
        base = Path(sid).name
        p = next((q for q in (kp_dir / f"{base}.seq.npz", kp_dir / f"{base}.npz") if q.is_file()),
                 None)
        if p is None:
            raise DataError(labels, f"sequence {sid!r}: no {base}.seq.npz or {base}.npz in {kp_dir}")
        tr = read_track_npz(p)
        if tr.num_frames != len(s["annotations"]):
            raise DataError(p, f"track has {tr.num_frames} frames, {sid!r} is annotated on "
                               f"{len(s['annotations'])}")
        out.append((track_features(tr, tr.image_size or (570, 1024)), s["annotations"]))
    return out, names


def classify(train_dir, test_dir, out_dir=None, *, world=None, train_labels=None,
             test_labels=None, past: int = 100, future: int = 100, gap: int = 2,
             epochs: int = 15, seed: int = 42) -> dict:
    """Behaviour classification from discovered tracks: the world's behaviour videos
    (``world`` root; train split -> val split) or CalMS21 task-1 JSON files."""
    import json

    if world is not None:
        tr, names = _track_labels_world(Path(train_dir), Path(world), "train")
        te, _ = _track_labels_world(Path(test_dir), Path(world), "val")
    elif train_labels and test_labels:
        tr, names = _track_labels_calms21(Path(train_dir), Path(train_labels))
        te, _ = _track_labels_calms21(Path(test_dir), Path(test_labels))
    else:
        raise ConfigError("give --world ROOT, or --train-labels and --test-labels (CalMS21 JSON)")
    res = behaviour_classification(tr, te, names, past=past, future=future, gap=gap,
                                   epochs=epochs, seed=seed)
    if out_dir is not None:
        from ..fsutil import atomic_write_text

        Path(out_dir).mkdir(parents=True, exist_ok=True)
        atomic_write_text(Path(out_dir) / "classification.json", json.dumps(res, indent=2))
    return res
