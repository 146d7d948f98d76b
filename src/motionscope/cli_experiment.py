"""``motionscope experiment ...``: create, serve, export and inspect a psychophysics experiment
(docs/psychophysics.md). Each command parses, then calls one function of api.py; none imports
torch."""

from __future__ import annotations

from typing import Annotated

import typer

from . import api

experiment_app = typer.Typer(add_completion=False, no_args_is_help=True,
                             pretty_exceptions_enable=False,
                             help="The BMP psychophysics experiment in the browser: create, serve, "
                                  "export, status (docs/psychophysics.md).")

DbOption = Annotated[str | None, typer.Option(
    "--db", help="SQLAlchemy URL (default: the SQLite file EXP/experiment.db), e.g. "
                 "postgresql://user:password@host/db")]


@experiment_app.command("create")
def create(stimuli: Annotated[str, typer.Option(help="folder written by `motionscope stimuli`")],
           out: Annotated[str, typer.Option(help="experiment folder to write")],
           conditions: Annotated[str | None, typer.Option(
               help="comma-separated conditions (default: every condition of the stimuli)")] = None,
           participants: Annotated[int, typer.Option(
               help="plan slots (participants beyond them reuse the slots in turn)")] = 20,
           trials_per_participant: Annotated[int | None, typer.Option(
               help="main trials per participant, catch trials not counted (default: the largest "
                    "balanced count showing each source clip once)")] = None,
           catch: Annotated[int, typer.Option(help="catch trials (clear RGB clips)")] = 4,
           practice: Annotated[int, typer.Option(help="practice trials with feedback")] = 2,
           seed: Annotated[int, typer.Option(help="random seed of the plan")] = 0,
           practice_condition: Annotated[str | None, typer.Option(
               help="condition of the practice clips (default: the first condition)")] = None,
           extras: Annotated[str, typer.Option(
               help="where practice and catch clips come from: world (rendered by the embedded "
                    "world), stimuli (taken from the stimuli set, removed from the plan) or auto")]
           = "auto",
           video_format: Annotated[str, typer.Option(
               help="mp4 (H.264: copied as written when browsers play it) or webm (VP9)")] = "mp4",
           platform: Annotated[str, typer.Option(
               help="recruitment: lab, prolific, mturk or any")] = "lab",
           force: Annotated[bool, typer.Option(
               "--force", help="rewrite an existing experiment folder (new plan)")] = False):
    """Make an experiment folder: settings, editable texts, the trial plan and the videos."""
    path = api.experiment_create(stimuli, out, conditions=conditions, participants=participants,
                                 trials_per_participant=trials_per_participant, catch=catch,
                                 practice=practice, seed=seed,
                                 practice_condition=practice_condition, extras=extras,
                                 video_format=video_format, platform=platform, force=force)
    import json

    plan = json.loads((path.parent / "plan.json").read_text(encoding="utf-8"))
    typer.echo(f"{len(plan['participants'])} plan slots x {plan['trials_per_participant']} trials "
               f"(+{plan['catch']} catch, {plan['practice']} practice) over "
               f"{', '.join(plan['conditions'])}; {len(plan['videos'])} videos "
               f"({plan['transcoded']} transcoded); practice/catch clips from {plan['extras']}")
    if plan.get("dropped_samples"):
        typer.echo(f"warning: {len(plan['dropped_samples'])} source clips are missing from some "
                   "condition and are not used", err=True)
    typer.echo(f"experiment written: {path} (edit it and the texts beside it, then "
               f"`motionscope experiment serve {path.parent}`)")


@experiment_app.command("serve")
def serve(experiment: Annotated[str, typer.Argument(help="experiment folder")],
          host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port")] = 8000,
          db: DbOption = None,
          proxy_headers: Annotated[bool, typer.Option(
              "--proxy-headers", help="behind a reverse proxy on this host: trust its "
                                      "X-Forwarded-For/-Proto")] = False):
    """Serve the experiment (uvicorn) until Ctrl-C; checks the videos and the database first."""
    api.experiment_serve(experiment, host=host, port=port, db_url=db, proxy_headers=proxy_headers,
                         announce=typer.echo)


@experiment_app.command("export")
def export(experiment: Annotated[str, typer.Argument(help="experiment folder")],
           out: Annotated[str, typer.Option(help="output folder for the CSV files")],
           db: DbOption = None):
    """Write trials.csv, participants.csv and questionnaire.csv."""
    files = api.experiment_export(experiment, out, db_url=db)
    for k, v in files.items():
        typer.echo(f"{k}: {v}")


@experiment_app.command("status")
def status(experiment: Annotated[str, typer.Argument(help="experiment folder")],
           db: DbOption = None,
           as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False):
    """Participants started, completed, excluded; answered trials per condition."""
    st = api.experiment_status(experiment, db_url=db)
    if as_json:
        import json

        typer.echo(json.dumps(st, indent=2))
        return
    for k, v in st["participants"].items():
        typer.echo(f"{k:12s} {v}")
    for cond, d in st["trials_per_condition"].items():
        acc = f"{100 * d['correct'] / d['answered']:.1f}%" if d["answered"] else "-"
        typer.echo(f"{cond:12s} {d['answered']:6d} trials  {acc:>6s} correct")


# ----------------------------------------------------------------------------- analyze
def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def _kappa(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


@experiment_app.command("analyze")
def analyze(experiment: Annotated[str, typer.Argument(help="experiment folder")],
            out: Annotated[str, typer.Option(help="output folder for tables and chart")],
            runs: Annotated[str | None, typer.Option(
                help="comma-separated run directories, checkpoints or bmp-eval output folders "
                     "(their per-clip predictions; computed with bmp-eval when absent)")] = None,
            db: DbOption = None,
            min_correct: Annotated[int | None, typer.Option(
                help="catch trials a participant must get right to be kept (default: the "
                     "experiment's catch.min_correct)")] = None,
            include_incomplete: Annotated[bool, typer.Option(
                "--include-incomplete", help="keep participants who did not finish")] = False,
            bootstrap: Annotated[int, typer.Option(
                help="bootstrap resamples of participants for the 95% intervals")] = 2000,
            seed: Annotated[int, typer.Option(help="seed of the bootstrap")] = 0,
            stimuli: Annotated[str | None, typer.Option(
                help="stimuli folder for computing predictions (default: the one the "
                     "experiment was made from)")] = None):
    """Humans beside models per condition: accuracy with 95% intervals, exclusions, each model on
    the same trials, error consistency (kappa), the paper's Tab. S6."""
    res = api.experiment_analyze(experiment, runs, out, db_url=db, min_correct=min_correct,
                                 require_complete=not include_incomplete, n_boot=bootstrap,
                                 seed=seed, stimuli=stimuli)
    ex = res["exclusion"]
    if res["simulated"]:
        typer.echo("SIMULATED participants only: these are not human data")
    typer.echo(f"participants {ex['participants']}, kept {ex['kept']}, excluded {ex['excluded']} "
               f"({ex['rule']})")
    for why_id, why in ex["excluded_ids"].items():
        typer.echo(f"  excluded {why_id}: {why}")
    for r in res["rows"]:
        lo, hi = r["human_lo"], r["human_hi"]
        ci = "" if lo is None else f" [{100 * lo:.1f}, {100 * hi:.1f}]"
        models = "".join(f"  {n} {_pct(m['acc'])} kappa {_kappa(m['kappa'])}"
                         for n, m in r["models"].items())
        typer.echo(f"{r['condition']:12s} {r['trials']:5d} trials  {100 * r['human']:5.1f}%{ci}"
                   f"{models}")
    typer.echo(f"tables: {res['files']['md']}  chart: {res['files'].get('chart', '-')}")
