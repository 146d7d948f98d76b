"""``motionscope bmp-eval``: a trained model on every BMP condition, beside the paper's numbers.

For each condition folder of a stimuli set (``motionscope stimuli``), the run's model predicts
every clip of the condition's ``path,label`` list; top-1 / top-5 / mean-class accuracy and the
usual evaluation files go to ``<out>/<COND>/``, and one table (CSV, Markdown, JSON) and one
chart (PNG) put ours beside the paper's MP, its best baseline and humans (Tab. S6).

How clips are read:

* runs trained on MP clips (``data.name=mp_clips``) read each condition through that dataset
  (``source: videos``, ``data.root=<stimuli>/<COND>``) with the run's ``frames``, ``size``,
  ``resize``, ``mean`` and ``std``: the replication rule and the centre crop of its test split;
* runs trained on another video dataset (``videos``, ``world_clips``, ``rawframes``) read each
  condition with ``data.name=videos``, ``data.root=<stimuli>/<COND>`` and the run's own clip
  options (segments, input size, normalisation, test views), i.e. exactly as its test split;
* other runs (e.g. the ``synthetic_clip`` smoke presets) read clips with the BMP test-time
  rule: ``data.args.frames`` frames (default 32) picked with
  ``floor(linspace(0, T, frames, endpoint=False))`` (short 3F/4F clips are replicated), the
  short side resized to ``data.args.size`` (default 224) and centre-cropped, pixels in [0, 1]
  (then ``(x - mean) / std`` when ``data.args`` has ``mean``/``std``).
"""

from __future__ import annotations

import csv
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from torch.utils.data import DataLoader, Dataset

from ..data.datasets import build_dataset
from ..engine.distributed import DistInfo
from ..engine.evaluate import classification_metrics, predict_loader, write_eval_outputs
from ..engine.trainer import amp_dtype, resolve_device
from ..errors import DataError
from ..fsutil import atomic_open, atomic_path, atomic_write_text
from ..io.paths import resolve_under
from ..signals import dataloader_worker_init
from ..stimuli.conditions import (
    CONDITIONS,
    PAPER_BASELINES,
    PAPER_MODELS,
    PAPER_TOP1,
    parse_conditions,
    replication_indices,
)
from .runs import load_run, set_threads

__all__ = ["bmp_eval", "StimulusClips", "paper_row", "write_bmp_table", "plot_bmp_chart"]

_VIDEO_DATASETS = ("videos", "world_clips", "rawframes", "mp_clips")
# data.args keys of the video datasets that do not describe how a clip is read
_NOT_CLIP_ARGS = ("list", "videos_dir", "format", "world", "num_frames_from", "frames_dir",
                  "template", "start_index", "classes", "sep")


class StimulusClips(Dataset):
    """Clips of one condition list for runs that are not trained on a video dataset (see the
    module docstring): ``{"video": (3, frames, size, size) float32, "label", "index"}``."""

    def __init__(self, list_file: str | os.PathLike, root: str | os.PathLike,
                 frames: int = 32, size: int | tuple[int, int] = 224, mean=None, std=None):
        from ..io.splits import read_video_csv

        self.samples = read_video_csv(list_file, root)
        self.labels = [int(s.label) for s in self.samples]
        self.names = [os.path.relpath(s.path, root) for s in self.samples]
        self.frames = int(frames)
        self.size = (int(size), int(size)) if np.isscalar(size) else tuple(int(v) for v in size)
        self.mean = None if mean is None else torch.tensor([float(v) for v in mean])
        self.std = None if std is None else torch.tensor([float(v) for v in std])
        self.root = str(root)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict:
        import cv2

        from ..io.video import read_video

        s = self.samples[index]
        clip = read_video(s.path)
        clip = clip[replication_indices(len(clip), self.frames)]
        H, W = self.size
        h, w = clip.shape[1:3]
        k = max(H / h, W / w)
        nh, nw = max(H, round(h * k)), max(W, round(w * k))
        y0, x0 = (nh - H) // 2, (nw - W) // 2
        out = np.stack([cv2.resize(f, (nw, nh), interpolation=cv2.INTER_AREA)[y0:y0 + H,
                                                                               x0:x0 + W]
                        for f in clip])
        x = torch.from_numpy(out).float().div_(255).permute(3, 0, 1, 2)  # (3, T, H, W)
        if self.mean is not None and self.std is not None:
            x = (x - self.mean[:, None, None, None]) / self.std[:, None, None, None]
        return {"video": x.contiguous(), "label": self.labels[index], "index": index}


# ----------------------------------------------------------------------------- reading
def _condition_dataset(cfg, cond_root: Path, list_rel: str, num_classes: int) -> Dataset:
    data = cfg.data
    args = OmegaConf.to_container(data.args, resolve=True)
    if data.name == "mp_clips":  # the MP reading: replication rule, resize, centre crop
        keep = ("frames", "size", "resize", "crop", "flip", "mean", "std")
        node = OmegaConf.create({
            "name": "mp_clips", "root": str(cond_root), "num_classes": num_classes,
            "args": {**{k: args[k] for k in keep if k in args}, "source": "videos",
                     "list": list_rel, "videos_dir": "videos"}})
        return build_dataset(node, "test", training=False)
    if data.name in _VIDEO_DATASETS:
        clip_args = {k: v for k, v in args.items() if k not in _NOT_CLIP_ARGS}
        node = OmegaConf.create(OmegaConf.to_container(data, resolve=True))
        node.name = "videos"
        node.root = str(cond_root)
        node.args = {**clip_args, "list": list_rel, "videos_dir": "videos"}
        return build_dataset(node, "test", training=False)
    return StimulusClips(cond_root / list_rel, cond_root / "videos",
                         frames=int(args.get("frames", 32)), size=args.get("size", 224),
                         mean=args.get("mean"), std=args.get("std"))


# ----------------------------------------------------------------------------- table
def paper_row(cond: str) -> dict:
    """The paper's top-1 (%) of ``cond`` for every model of Tab. S6, plus its best baseline."""
    row = dict(PAPER_TOP1[cond])
    best = max(PAPER_BASELINES, key=lambda m: row[m])
    row["best_baseline"] = best
    return row


def write_bmp_table(rows: list[dict], out: str | os.PathLike, title: str = "",
                    seconds: float | None = None) -> dict:
    """``bmp_results.csv`` (every paper column), ``bmp_results.md`` and ``bmp_results.json``
    (with the evaluation's wall time, ``seconds``, when given)."""
    out = Path(out)
    cols = ["condition", "group", "clips", "top1", "top5", "mean_class_acc"] + [
        f"paper_{m}" for m in PAPER_MODELS] + ["paper_best_baseline"]
    paths = {"csv": out / "bmp_results.csv", "md": out / "bmp_results.md",
             "json": out / "bmp_results.json"}
    with atomic_open(paths["csv"], "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            p = paper_row(r["condition"])
            w.writerow([r["condition"], r["group"], r["clips"],
                        *(_fmt(r.get(k)) for k in ("top1", "top5", "mean_class_acc")),
                        *(_fmt(p[m], 1.0) for m in PAPER_MODELS), p["best_baseline"]])
    lines = [f"# {title}" if title else "# BMP conditions", "",
             "Top-1 accuracy (%). Paper columns: Tab. S6 of Han et al. (NeurIPS 2024), models "
             "trained on BMP RGB (NTU RGB+D 120).", "",
             "| condition | group | clips | ours top-1 | ours mean-class | MP (paper) | "
             "best baseline (paper) | human (paper) |",
             "|---|---|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        p = paper_row(r["condition"])
        human = "/" if p["Human"] is None else f"{p['Human']:.2f}"
        lines.append(f"| {r['condition']} | {r['group']} | {r['clips']} | {_pct(r.get('top1'))} "
                     f"| {_pct(r.get('mean_class_acc'))} | {p['MP']:.2f} | "
                     f"{p[p['best_baseline']]:.2f} ({p['best_baseline']}) | {human} |")
    atomic_write_text(paths["md"], "\n".join(lines) + "\n")
    atomic_write_text(paths["json"], json.dumps({"title": title, "rows": rows, "seconds": seconds},
                                                indent=1))
    return paths


def _fmt(v, scale: float = 100.0) -> str:
    return "" if v is None else f"{scale * float(v):.2f}"


def _pct(v) -> str:
    return "-" if v is None else f"{100 * float(v):.2f}"


def plot_bmp_chart(rows: list[dict], path: str | os.PathLike, title: str = "",
                   label: str = "ours") -> None:
    """Grouped bars per condition: ours, the paper's MP and best baseline; humans as dots."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    names = [r["condition"] for r in rows]
    x = np.arange(len(names))
    ours = [100 * r["top1"] if r.get("top1") is not None else np.nan for r in rows]
    mp = [PAPER_TOP1[n]["MP"] for n in names]
    base = [PAPER_TOP1[n][paper_row(n)["best_baseline"]] for n in names]
    human = [PAPER_TOP1[n]["Human"] if PAPER_TOP1[n]["Human"] is not None else np.nan
             for n in names]
    fig, ax = plt.subplots(figsize=(max(7.0, 0.55 * len(names) + 2), 4.2))
    w = 0.27
    ax.bar(x - w, ours, w, label=label, color="#1f77b4")
    ax.bar(x, mp, w, label="MP (paper)", color="#ff7f0e")
    ax.bar(x + w, base, w, label="best baseline (paper)", color="#7f7f7f")
    ax.plot(x, human, "k_", markersize=12, mew=2, linestyle="none", label="human (paper)")
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("top-1 accuracy (%)")
    ax.set_ylim(0, 118)
    ax.set_yticks(range(0, 101, 20))
    ax.axhline(10, color="k", lw=0.6, ls=":")  # chance for 10 classes
    ax.set_title(title or "BMP conditions", fontsize=10)
    ax.legend(fontsize=7, ncol=4, loc="upper center", frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# ----------------------------------------------------------------------------- bmp-eval
def bmp_eval(run: str, stimuli: str, out: str | None = None, conditions=None,
             overrides: list[str] | None = None, batch_size: int | None = None,
             progress: bool = True) -> dict:
    """Evaluate the model of ``run`` (a run directory or checkpoint) on every condition of the
    stimuli folder ``stimuli``; writes ``<out>/bmp_results.{csv,md,json}``,
    ``<out>/bmp_chart.png`` and per-condition evaluation files under ``<out>/<COND>/``
    (default ``out``: ``<run>/bmp``). Returns ``{"rows": [...], "files": {...}, "seconds": s}``."""
    t0 = time.perf_counter()
    sroot = Path(stimuli)
    mpath = sroot / "stimuli.json"
    if not mpath.is_file():
        raise DataError(sroot, "not a stimuli folder (no stimuli.json); make one with "
                               "`motionscope stimuli`")
    try:
        manifest = json.loads(mpath.read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(mpath, f"unreadable stimuli manifest ({e})") from None
    have = manifest.get("conditions", {})
    wanted = [c.name for c in parse_conditions(conditions)] if conditions else list(have)
    names = [n for n in CONDITIONS if n in wanted and n in have]
    if not names:
        raise DataError(sroot, f"none of the conditions {wanted} is in this stimuli folder "
                               f"(it has {', '.join(have) or 'none'})")
    state, cfg, model = load_run(run, overrides)
    set_threads(cfg)
    num_classes = int(cfg.data.num_classes)
    classes = list(state.get("classes") or [str(i) for i in range(num_classes)])
    device = resolve_device(cfg.train.device)
    model.to(device)
    amp = amp_dtype(cfg.train.amp)
    out_dir = Path(out) if out else Path(state["_path"]).parent.parent / "bmp"
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        info = have[name]
        row = {"condition": name, "group": CONDITIONS[name].group, "clips": int(info["clips"])}
        if not info["clips"]:
            rows.append({**row, "top1": None, "top5": None, "mean_class_acc": None})
            continue
        lst = resolve_under(sroot, info["list"], source=mpath, line=f"conditions.{name}.list")
        ds = _condition_dataset(cfg, sroot / name, os.path.relpath(lst, sroot / name),
                                num_classes)
        labels = np.asarray(getattr(ds, "labels", []))
        if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
            raise DataError(lst, f"labels up to {int(labels.max())} but the "
                            f"model has {num_classes} classes")
        loader = DataLoader(ds, batch_size=batch_size or cfg.data.eval_batch_size
                            or cfg.data.batch_size, num_workers=cfg.data.num_workers,
                            worker_init_fn=dataloader_worker_init)
        views = cfg.eval.views if cfg.data.name in _VIDEO_DATASETS else 1
        res = predict_loader(model, loader, device, DistInfo(), views=views, amp_dtype=amp,
                             desc=name, show_progress=progress)
        metrics = classification_metrics(res["label"], res["prob"], num_classes,
                                         list(cfg.eval.topk))
        write_eval_outputs(out_dir / name, res, metrics, classes, getattr(ds, "names", None),
                           "test", plots=False)
        rows.append({**row, **{k: metrics.get(k) for k in ("top1", "top5", "mean_class_acc")}})
    title = f"{cfg.model.name} ({Path(run).name}) on {sroot.name}"
    seconds = round(time.perf_counter() - t0, 1)
    files = write_bmp_table(rows, out_dir, title, seconds)
    files["chart"] = out_dir / "bmp_chart.png"
    plot_bmp_chart(rows, files["chart"], title, label=cfg.model.name)
    return {"rows": rows, "files": {k: str(v) for k, v in files.items()}, "seconds": seconds}
