"""The ``motionscope`` command line: one Typer app; each command parses, then calls api.py."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from . import api
from .errors import ConfigError, Interrupted, MotionscopeError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="motionscope: recognise actions from how things move.")

Overrides = Annotated[list[str] | None, typer.Argument(help="dotted overrides, e.g. train.epochs=3")]


def _parse_hw(value: str, option: str) -> tuple[int, int]:
    """``"224x398"`` -> ``(224, 398)``; anything else is a ConfigError naming ``option``."""
    parts = value.lower().split("x")
    try:
        if len(parts) != 2:
            raise ValueError(value)
        h, w = (int(v) for v in parts)
    except ValueError as e:
        raise ConfigError(f"{option} {value!r}: expected HxW, e.g. 224x224") from e
    if h < 1 or w < 1:
        raise ConfigError(f"{option} {value!r}: height and width must be positive")
    return h, w


@app.command()
def train(preset: Annotated[str, typer.Argument(help="preset name or YAML file")],
          overrides: Overrides = None,
          run_dir: Annotated[str | None, typer.Option(
              help="run directory (default: train.run_dir, else runs/PRESET)")] = None,
          resume: Annotated[str | None, typer.Option(help="checkpoint or run dir to resume")] = None,
          fresh: Annotated[bool, typer.Option(
              "--fresh", help="start a new run, never resume (next free <name>-N)")] = False,
          force_resume: Annotated[bool, typer.Option(
              "--force-resume", help="resume although the config differs from the checkpoint's")]
          = False):
    """Train PRESET. The run directory is --run-dir, else train.run_dir, else runs/PRESET (the
    next free runs/PRESET-N once that one has finished). Running the same command again
    auto-resumes an interrupted run there when its config agrees (otherwise it refuses and lists
    the keys: --force-resume / --fresh); one process per run directory; SIGINT/SIGTERM save a
    checkpoint and exit 130 (docs/reliability.md)."""
    res = api.train(preset, overrides, run_dir=run_dir, resume=resume, fresh=fresh,
                    force_resume=force_resume)
    test = res.get("test")
    if test:
        typer.echo("test: " + " ".join(f"{k}={v:.4f}" for k, v in test.items()
                                       if isinstance(v, float) and k != "loss"))
    typer.echo(f"run directory: {res['run_dir']}")


@app.command("test")
def test_cmd(run: Annotated[str, typer.Argument(help="run directory or checkpoint")],
             overrides: Overrides = None,
             split: Annotated[str | None, typer.Option(help="split to evaluate")] = None,
             out: Annotated[str | None, typer.Option(help="output folder")] = None):
    """Evaluate a trained model: top-1/5, mean-class accuracy, confusion matrix, predictions."""
    res = api.evaluate(run, overrides, split=split, out_dir=out)
    for k, v in res["metrics"].items():
        typer.echo(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    for k, v in res["files"].items():
        typer.echo(f"{k}: {v}")


@app.command()
def predict(ckpt: Annotated[str, typer.Argument(help="run directory or checkpoint")],
            input: Annotated[str, typer.Argument(help=(
                "what the run's dataset reads, as its test split does: RGB runs (videos, "
                "rawframes, world_clips) a video file or a frame folder; skeleton runs "
                "(ntu_skeleton, skeleton_dataset) an NTU .skeleton file or a .npy of (C, T, V, M) "
                "or (T, M*75) rows; other runs a .npy/.npz array in the model's input layout"))],
            topk: Annotated[int, typer.Option(help="number of classes to show")] = 5,
            as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False):
    """Class names and probabilities for one input."""
    res = api.predict(ckpt, input, topk=topk)
    if as_json:
        typer.echo(json.dumps(res, indent=2))
        return
    for p in res["predictions"]:
        typer.echo(f"{p['prob']:7.2%}  {p['class']}")


@app.command()
def presets():
    """List the shipped presets with their whole descriptions."""
    import shutil
    import textwrap

    width = max(60, min(shutil.get_terminal_size((110, 24)).columns, 140))
    for name, desc in api.presets().items():
        typer.echo(name)
        typer.echo(textwrap.fill(desc or "(no description)", width, initial_indent="    ",
                                 subsequent_indent="    ", break_on_hyphens=False,
                                 break_long_words=False))


@app.command()
def config(preset: Annotated[str, typer.Argument(help="preset name or YAML file")],
           overrides: Overrides = None):
    """Print the resolved configuration of PRESET with OVERRIDES."""
    typer.echo(api.config(preset, overrides), nl=False)


@app.command()
def info():
    """Versions, device, threads, models and presets."""
    for k, v in api.info().items():
        typer.echo(f"{k:12s} {', '.join(v) if isinstance(v, list) else v}")


@app.command()
def synth(out: Annotated[str, typer.Option(help="output folder")],
          classes: Annotated[str, typer.Option(help="class set (bmp10) or comma-separated keys")] = "bmp10",
          clips_per_class: Annotated[int, typer.Option(help="clips per class")] = 10,
          frames: Annotated[int, typer.Option(help="frames per clip")] = 32,
          size: Annotated[str, typer.Option(help="frame size HxW")] = "224x224",
          formats: Annotated[str, typer.Option(help=(
              "comma-separated, any of: rgb (mp4 + split CSVs), depth (16-bit PNG folders, "
              "full and person-masked), skeleton (NTU .skeleton), keypoints (AlphaPose-style JSON), "
              "rawframes (JPEG folders + lists), silhouette (mask .npz), behavior (fixed-camera "
              "behaviour videos + true keypoints)"))] = "rgb,depth,skeleton,keypoints,rawframes",
          seed: Annotated[int, typer.Option(help="random seed (same seed, same bytes)")] = 0,
          workers: Annotated[int, typer.Option(help="worker processes")] = 1):
    """Generate the embedded motion world in the real on-disk formats."""
    manifest = api.synth(out, classes=classes, clips_per_class=clips_per_class, frames=frames,
                         size=_parse_hw(size, "--size"), formats=formats, seed=seed,
                         workers=workers)
    typer.echo(f"world written: {manifest}")


@app.command()
def prepare(dataset: Annotated[str, typer.Argument(help="ntu or pku")],
            raw: Annotated[str, typer.Option(help="folder of raw files (.skeleton / PKU-MMD)")],
            out: Annotated[str, typer.Option(help="output folder")],
            ntu120: Annotated[bool, typer.Option("--ntu120", help="NTU RGB+D 120")] = False,
            version: Annotated[int, typer.Option(help="PKU-MMD phase: 1 or 2")] = 1,
            workers: Annotated[int | None, typer.Option(help="worker processes")] = None,
            num_classes: Annotated[int | None, typer.Option(
                help="NTU format, another dataset: label width (default 60, or 120)")] = None,
            class_names: Annotated[str | None, typer.Option(
                help="NTU format, another dataset: file of class names, one per line")] = None,
            lost_frames: Annotated[str, typer.Option(
                help="NTU: frames whose joints are all 0 (tracking lost): keep (official), "
                     "drop or interpolate")] = "keep"):
    """Ingest NTU RGB+D 60/120 or PKU-MMD as the official MAMP preprocessing does."""
    s = api.prepare(dataset, raw, out, ntu120=ntu120, version=version, workers=workers,
                    num_classes=num_classes, class_names=class_names, lost_frames=lost_frames)
    typer.echo(f"{s['files_processed']} files, {s['samples_kept']} samples kept, "
               f"{s['num_dropped']} dropped {s['dropped']}, {s['num_failed']} failed {s['failed']}"
               f" ({s['files_per_s']} files/s)")
    for f in s["failures"][:10]:
        typer.echo(f"  failed: {f['error']}", err=True)
    for bench, b in s["benchmarks"].items():
        typer.echo(f"{bench}: {b['train']} train / {b['test']} test -> {out}/{b['file']}")
    for w in s.get("warnings", []):
        typer.echo(f"  warning: {w}", err=True)
    typer.echo(f"summary: {out}/summary.json")


@app.command()
def stimuli(source: Annotated[str, typer.Option(help="world, NTU RGB+D root or keypoint folder")],
            out: Annotated[str, typer.Option(help="output folder")],
            conditions: Annotated[str, typer.Option(help="all, names or groups (AVI,TO,...)")] = "all",
            list_file: Annotated[str | None, typer.Option("--list", help="path,label split list "
                                                     "(e.g. Protocols/test_RGB.csv)")] = None,
            size: Annotated[str | None, typer.Option(help="output HxW (default: source)")] = None,
            frames: Annotated[int, typer.Option(help="frames per clip (0: source length)")] = 32,
            seed: Annotated[int, typer.Option(help="random seed")] = 0,
            workers: Annotated[int, typer.Option(help="worker processes")] = 1,
            preview: Annotated[str | None, typer.Option(help="gif or mp4 previews")] = None,
            radius: Annotated[float | None, typer.Option(
                help="dot radius in px (default: the official 5/1080 of the frame height)")] = None):
    """Render the BMP point-light / temporal conditions (docs/bmp.md)."""
    path = api.stimuli(source, out, conditions, list_path=list_file,
                       size=_parse_hw(size, "--size") if size else None, frames=frames or None,
                       seed=seed, workers=workers, preview=preview, radius=radius)
    from .stimuli.generate import missing_message

    manifest = json.loads(path.read_text(encoding="utf-8"))
    for cond, info in manifest["conditions"].items():
        typer.echo(f"{cond:10s} {info['clips']:6d} clips" + (
            f", {len(info['failed'])} failed (first: {info['failed'][0]['error']})"
            if info["failed"] else ""))
    if msg := missing_message(manifest):  # listed samples the source does not have, by name
        typer.echo(f"warning: {msg}", err=True)
    typer.echo(f"stimuli written: {path}")


@app.command("bmp-eval")
def bmp_eval(run: Annotated[str, typer.Argument(help="run directory or checkpoint")],
             stimuli: Annotated[str, typer.Option(help="folder made by `motionscope stimuli`")],
             out: Annotated[str | None, typer.Option(help="output folder")] = None,
             conditions: Annotated[str | None, typer.Option(help="subset (default all)")] = None):
    """Evaluate a trained model on every BMP condition beside the paper's numbers."""
    res = api.bmp_eval(run, stimuli, out=out, conditions=conditions)
    for r in res["rows"]:
        acc = "-" if r["top1"] is None else f"{100 * r['top1']:.2f}%"
        typer.echo(f"{r['condition']:10s} {acc:>8s}  ({r['clips']} clips)")
    for k, v in res["files"].items():
        typer.echo(f"{k}: {v}")


@app.command("convert-checkpoint")
def convert_checkpoint(old: Annotated[str, typer.Argument(help="checkpoint of motionscope < format 2")],
                       new: Annotated[str, typer.Argument(help="where to write the converted one")],
                       trust_pickle: Annotated[bool, typer.Option(
                           "--trust-pickle", help="unpickle anything: RUNS THE FILE'S CODE; only "
                           "for files you trust")] = False):
    """Rewrite an old checkpoint so it loads without unpickling code (docs/security.md)."""
    path = api.convert_checkpoint(old, new, trust_pickle=trust_pickle)
    typer.echo(f"converted checkpoint written: {path}")


@app.command()
def demo(out: Annotated[str, typer.Option(help="output folder")] = "runs/demo",
         quick: Annotated[bool, typer.Option(help="tiny smoke version")] = False):
    """Generate data, train and evaluate, print a results table and write plots."""
    api.demo(out=out, quick=quick)


from .cli_experiment import experiment_app  # noqa: E402

app.add_typer(experiment_app, name="experiment")


from .cli_discover import app as _discover_app  # noqa: E402

app.add_typer(_discover_app, name="discover")


def main(argv: list[str] | None = None) -> None:
    """Entry point: MotionscopeError -> one clear line on stderr, exit code 2 (130 if interrupted,
    by Ctrl-C or by a SIGTERM to the process group: ``motionscope.signals``)."""
    from .signals import stop_signals_interrupt

    try:
        with stop_signals_interrupt():
            rc = app(args=argv, standalone_mode=False)
        # typer (standalone_mode=False) turns a KeyboardInterrupt into a returned 130
        if rc == 130:
            raise KeyboardInterrupt
        if isinstance(rc, int) and rc:
            sys.exit(rc)
    except Interrupted as e:
        typer.echo(f"motionscope: {e}", err=True)
        sys.exit(130)
    except MotionscopeError as e:
        typer.echo(f"motionscope: error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("motionscope: interrupted", err=True)
        sys.exit(130)
    except typer.Exit as e:  # --help and friends
        sys.exit(getattr(e, "exit_code", 0))
    except typer.Abort:
        sys.exit(130)
    except Exception as e:
        # usage errors (missing argument, unknown option or command) of typer's click layer
        # carry show() and exit_code; anything else is a bug and keeps its traceback
        if hasattr(e, "show") and hasattr(e, "exit_code"):
            e.show()
            sys.exit(e.exit_code)
        raise

if __name__ == "__main__":
    main()
