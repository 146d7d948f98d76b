"""The Python API: every CLI command calls exactly one function here.

    >>> import motionscope.api as ms
    >>> result = ms.train("baseline_skeleton", ["train.epochs=2"])
    >>> ms.evaluate(result["run_dir"])

Importing this module is cheap: each function imports what it needs when called, so
``synth``, ``prepare``, ``stimuli``, ``presets`` and ``config`` never load torch. The
signatures are those of the functions they call (``tests/test_startup.py`` checks that).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["train", "evaluate", "predict", "demo", "info", "synth", "prepare", "stimuli",
           "bmp_eval", "presets", "config", "convert_checkpoint", "experiment_create",
           "experiment_serve", "experiment_export", "experiment_status", "experiment_analyze"]


def train(preset: str, overrides: list[str] | None = None, run_dir: str | None = None,
          resume: str | None = None, fresh: bool = False, force_resume: bool = False) -> dict:
    """Train ``preset`` (a preset name or YAML file) with dotted ``overrides``.

    Auto-resumes an interrupted run in the same ``run_dir`` when the config agrees with the
    checkpoint's (else refuses, listing the keys; ``force_resume`` resumes anyway, ``fresh``
    starts a new run); ``resume``: a checkpoint or run directory to resume from. One process
    per run directory. Returns ``{"run_dir", "test", ...}``. Needs torch.
    See :func:`motionscope.tasks.classify.train` and docs/reliability.md.
    """
    from .tasks.classify import train as _train

    return _train(preset, overrides, run_dir=run_dir, resume=resume, fresh=fresh,
                  force_resume=force_resume)


def evaluate(run_or_ckpt: str, overrides: list[str] | None = None, split: str | None = None,
             out_dir: str | None = None) -> dict:
    """Test a trained model (run directory or checkpoint) on ``split``: top-1/5, mean-class
    accuracy, confusion matrix CSV/PNG and predictions CSV under ``out_dir``.

    Returns ``{"metrics": ..., "files": ...}``. See :func:`motionscope.tasks.classify.evaluate`.
    """
    from .tasks.classify import evaluate as _evaluate

    return _evaluate(run_or_ckpt, overrides, split=split, out_dir=out_dir)


def predict(ckpt: str, input_path: str, topk: int = 5) -> dict:
    """Class names and probabilities (top ``topk``) for one input file or folder, read as the
    model's data reads it. See :func:`motionscope.tasks.classify.predict`.
    """
    from .tasks.classify import predict as _predict

    return _predict(ckpt, input_path, topk=topk)


def demo(out: str | None = None, quick: bool = False, cache: str | None = None) -> dict:
    """Generate the embedded world, train and evaluate, write a results table and plots to
    ``out``; returns the per-model test metrics and the written files.
    See :func:`motionscope.tasks.demo.demo`.
    """
    from .tasks.demo import demo as _demo

    return _demo(out=out, quick=quick, cache=cache)


def synth(out: str | os.PathLike, *, classes="bmp10", clips_per_class: int = 10,
          frames: int = 32, size: tuple[int, int] = (224, 224),
          formats=("rgb", "depth", "skeleton", "keypoints", "rawframes"), seed: int = 0,
          workers: int = 1, progress: bool = True, **options) -> Path:
    """Write the embedded motion world to ``out`` in the real on-disk formats; returns the
    path of its ``manifest.json``. No torch.

    ``formats``: any of rgb, depth, skeleton, keypoints, rawframes, silhouette, behavior (a
    list or a comma-separated string); ``options``: the other ``WorldConfig`` fields. Same
    arguments, same bytes, for any ``workers``. See :func:`motionscope.synth.generate_world`.
    """
    from .synth import generate_world

    return generate_world(out, classes=classes, clips_per_class=clips_per_class, frames=frames,
                          size=size, formats=formats, seed=seed, workers=workers,
                          progress=progress, **options)


def prepare(dataset: str, raw: str | os.PathLike, out: str | os.PathLike, *,
            ntu120: bool = False, version: int = 1, workers: int | None = None,
            progress: bool = True, num_classes: int | None = None,
            class_names: str | os.PathLike | None = None, lost_frames: str = "keep") -> dict:
    """Ingest ``dataset`` (``"ntu"`` or ``"pku"``) from the raw files in ``raw`` into ``out``
    as the official MAMP preprocessing does; returns the summary dict. No torch.

    ``ntu120``: NTU RGB+D 120 instead of 60; ``version``: PKU-MMD phase 1 or 2;
    ``num_classes`` / ``class_names``: another dataset in NTU's format (label width, names);
    ``lost_frames``: ``keep`` (official), ``drop`` or ``interpolate`` all-zero frames.
    See :func:`motionscope.prepare.prepare`.
    """
    from .prepare import prepare as _prepare

    return _prepare(dataset, raw, out, ntu120=ntu120, version=version, workers=workers,
                    progress=progress, num_classes=num_classes, class_names=class_names,
                    lost_frames=lost_frames)


def stimuli(source: str | os.PathLike, out: str | os.PathLike,
            conditions: str | list[str] = "all", *, list_path: str | None = None,
            split: str | None = None, labels: str = "auto", pose: str = "auto",
            frames: int | None = 32, size: tuple[int, int] | None = None,
            seed: int = 0, workers: int = 1, threshold: float = 0.4,
            radius: float | None = None, antialias: bool | None = None,
            qp: int = 18, preset: str = "ultrafast", preview: str | None = None,
            limit: int | None = None, progress: bool = True,
            strict: bool = False) -> Path:
    """Render the BMP point-light / temporal ``conditions`` of every sample of ``source`` (an
    embedded world, an NTU RGB+D root or a keypoint folder) into ``out``; returns the path of
    ``stimuli.json``. No torch. See :func:`motionscope.stimuli.generate_stimuli` and docs/bmp.md.
    """
    from .stimuli import generate_stimuli

    return generate_stimuli(source, out, conditions, list_path=list_path, split=split,
                            labels=labels, pose=pose, frames=frames, size=size, seed=seed,
                            workers=workers, threshold=threshold, radius=radius,
                            antialias=antialias, qp=qp, preset=preset, preview=preview,
                            limit=limit, progress=progress, strict=strict)


def bmp_eval(run: str, stimuli: str, out: str | None = None, conditions=None,
             overrides: list[str] | None = None, batch_size: int | None = None,
             progress: bool = True) -> dict:
    """Evaluate the model of ``run`` on every condition of the ``stimuli`` folder (made by
    :func:`stimuli`), beside the paper's numbers; writes ``bmp_results.{csv,md,json}`` and
    ``bmp_chart.png`` to ``out``. See :func:`motionscope.tasks.bmp.bmp_eval`.
    """
    from .tasks.bmp import bmp_eval as _bmp_eval

    return _bmp_eval(run, stimuli, out=out, conditions=conditions, overrides=overrides,
                     batch_size=batch_size, progress=progress)


def convert_checkpoint(src: str | os.PathLike, dst: str | os.PathLike,
                       trust_pickle: bool = False) -> Path:
    """Rewrite a checkpoint of motionscope before format 2 (numpy RNG states pickled) as a
    weights-only loadable one at ``dst``; returns ``dst``. Runs none of the file's code unless
    ``trust_pickle`` (which executes the pickle: only for files you trust). See docs/security.md
    and :func:`motionscope.engine.checkpoint.convert_legacy_checkpoint`.
    """
    from .engine.checkpoint import convert_legacy_checkpoint

    return convert_legacy_checkpoint(src, dst, trust_pickle=trust_pickle)


def presets() -> dict[str, str]:
    """Shipped preset name -> its one-line description. No torch."""
    from .config import list_presets

    return list_presets()


def config(preset: str | None = None, overrides: list[str] | None = None) -> str:
    """The resolved, validated configuration of ``preset`` (a preset name or YAML file; None:
    the schema defaults) with dotted ``overrides``, as YAML. No torch: ``model.args`` and
    ``data.args`` are checked against their builders when a run is built (see
    :func:`motionscope.config.load_config`).
    """
    from .config import load_config, to_yaml

    return to_yaml(load_config(preset, overrides))


def info() -> dict[str, Any]:
    """Versions, device, threads, models and presets (what `motionscope info` prints)."""
    import platform

    import numpy as np
    import torch

    from . import __version__
    from .config import list_presets
    from .models import list_models

    cuda = torch.cuda.is_available()
    return {
        "motionscope": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cuda": torch.version.cuda if cuda else None,
        "threads": torch.get_num_threads(),
        "models": list_models(),
        "presets": list(list_presets()),
    }


# ----------------------------------------------------------------------------- experiment
def experiment_create(stimuli: str | os.PathLike, out: str | os.PathLike, *,
                      conditions: str | list[str] | None = None, participants: int = 20,
                      trials_per_participant: int | None = None, catch: int = 4,
                      practice: int = 2, seed: int = 0, practice_condition: str | None = None,
                      extras: str = "auto", video_format: str = "mp4",
                      platform: str = "lab", force: bool = False, progress: bool = True) -> Path:
    """Write a psychophysics experiment folder from a ``stimuli`` folder (settings, texts, trial
    plan, browser-playable videos); returns its ``experiment.yaml``. No torch.
    See :func:`motionscope.experiment.create.create_experiment` and docs/psychophysics.md.
    """
    from .experiment.create import create_experiment

    return create_experiment(stimuli, out, conditions=conditions, participants=participants,
                             trials_per_participant=trials_per_participant, catch=catch,
                             practice=practice, seed=seed, practice_condition=practice_condition,
                             extras=extras, video_format=video_format, platform=platform,
                             force=force, progress=progress)


def experiment_serve(experiment: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000,
                     db_url: str | None = None, proxy_headers: bool = False,
                     log_level: str = "info", announce=print) -> None:
    """Serve an experiment folder with uvicorn until interrupted (checks its videos and the
    database first). No torch. See :func:`motionscope.experiment.app.serve`.
    """
    from .experiment.app import serve

    return serve(experiment, host=host, port=port, db_url=db_url, proxy_headers=proxy_headers,
                 log_level=log_level, announce=announce)


def experiment_export(experiment: str | os.PathLike, out: str | os.PathLike,
                      db_url: str | None = None) -> dict[str, Path]:
    """Write an experiment's trials, participants and questionnaire answers as CSV to ``out``.
    No torch. See :func:`motionscope.experiment.export.export_experiment`.
    """
    from .experiment.export import export_experiment

    return export_experiment(experiment, out, db_url=db_url)


def experiment_status(experiment: str | os.PathLike, db_url: str | None = None) -> dict:
    """Participants started/completed/excluded and answered trials per condition. No torch.
    See :func:`motionscope.experiment.app.experiment_status`.
    """
    from .experiment.app import experiment_status as _status

    return _status(experiment, db_url=db_url)


def experiment_analyze(experiment: str | os.PathLike, runs: str | list[str] | None,
                       out: str | os.PathLike, db_url: str | None = None,
                       min_correct: int | None = None, require_complete: bool = True,
                       n_boot: int = 2000, seed: int = 0, stimuli: str | None = None,
                       progress: bool = True) -> dict:
    """Humans beside models: per-condition accuracy with bootstrap intervals over participants,
    the catch-trial exclusion rule, each run's accuracy on the same trials and the error
    consistency (kappa) per condition, beside the paper's Tab. S6; tables and a chart in
    ``out``. Torch only when a run's predictions must be computed (bmp-eval).
    See :func:`motionscope.experiment.analyze.analyze`.
    """
    from .experiment.analyze import analyze

    return analyze(experiment, runs, out, db_url=db_url, min_correct=min_correct,
                   require_complete=require_complete, n_boot=n_boot, seed=seed, stimuli=stimuli,
                   progress=progress)


# ----------------------------------------------------------------------------- B-KinD discovery
def discover_train(preset: str, overrides: list[str] | None = None, run_dir: str | None = None,
                   resume: str | None = None, fresh: bool = False) -> dict:
    """Train a B-KinD preset (losses only) with the engine; ``resume`` continues a run (a
    finished one with a longer schedule). See :func:`motionscope.tasks.discover.train`."""
    from .tasks.discover import train as _train

    return _train(preset, overrides, run_dir=run_dir, resume=resume, fresh=fresh)


def discover_extract(ckpt: str, inputs: str, out_dir: str, *, boxes: str | None = None,
                     batch_size: int = 32, official_bn_train: bool = False,
                     image_size: int | None = None, num_keypoints: int | None = None,
                     device: str = "auto", precision: str = "fp32") -> dict:
    """Discovered keypoints of every video of ``inputs`` (batched) into ``out_dir``: npz,
    DeepLabCut CSV and SLEAP analysis h5 per video; ``boxes``: box/multi-agent mode. See
    :func:`motionscope.tasks.discover.extract`."""
    from .tasks.discover import extract as _extract

    return _extract(ckpt, inputs, out_dir, boxes=boxes, batch_size=batch_size,
                    official_bn_train=official_bn_train, image_size=image_size,
                    num_keypoints=num_keypoints, device=device, precision=precision)


def discover_render(track: str, video: str, out: str, *, start: int = 0, num: int | None = 300,
                    fps: float | None = None) -> Path:
    """An mp4 / GIF / PNG of a track's keypoints and covariance ellipses on its video. See
    :func:`motionscope.tasks.discover.render`."""
    from .tasks.discover import render as _render

    return _render(track, video, out, start=start, num=num, fps=fps)


def discover_regress(keypoints: str, labels: str, out_dir: str | None = None, *,
                     ridge: float = 0.0, folds: int = 5, with_confidence: bool = False,
                     with_covariance: bool = False, joints: list[str] | None = None,
                     match: str = "name", baseline: bool = False) -> dict:
    """Cross-validated linear pose read-out of a discovered track against a label file. See
    :func:`motionscope.tasks.readouts.regress`."""
    from .tasks.readouts import regress as _regress

    return _regress(keypoints, labels, out_dir, ridge=ridge, folds=folds,
                    with_confidence=with_confidence, with_covariance=with_covariance,
                    joints=joints, match=match, baseline=baseline)


def discover_classify(train_dir: str, test_dir: str, out_dir: str | None = None, *,
                      world: str | None = None, train_labels: str | None = None,
                      test_labels: str | None = None, past: int = 100, future: int = 100,
                      gap: int = 2, epochs: int = 15, seed: int = 42) -> dict:
    """Behaviour classification (the CalMS21 task-1 1D-CNN) from discovered tracks, on the
    world's behaviour videos or CalMS21 JSON labels. See
    :func:`motionscope.tasks.readouts.classify`."""
    from .tasks.readouts import classify as _classify

    return _classify(train_dir, test_dir, out_dir, world=world, train_labels=train_labels,
                     test_labels=test_labels, past=past, future=future, gap=gap, epochs=epochs,
                     seed=seed)
