"""Start-up of the command line: wall and CPU seconds of commands that need no torch.

Each command runs in a fresh process through the installed console script (``motionscope``
next to this Python), ``repeats`` times after one untimed warm-up; medians are compared with
``python -c pass`` and ``python -c "import torch"`` measured the same way in the same run.
A second, untimed run of each command through ``motionscope.cli.main`` records whether torch
got imported. Goal: ``motionscope --help`` under 0.5 s wall, and no torch for any of these.

    python benchmarks/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median, write_result  # noqa: E402

GOAL_HELP_S = 0.5

# runs motionscope.cli.main(argv) as the console script does, then reports on the last line
_WRAPPER = """
import json, sys
code = 0
try:
    from motionscope.cli import main
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code or 0
print("\\nSTARTUP " + json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def _env() -> dict:
    return {**os.environ, "MOTIONSCOPE_NO_PROGRESS": "1"}


def _timed_run(argv: list[str]) -> tuple[float, float]:
    """(wall s, child CPU s) of one run of ``argv``; raises if it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=_env())
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(argv: list[str], repeats: int) -> dict:
    _timed_run(argv)  # warm-up: file cache, .pyc
    runs = [_timed_run(argv) for _ in range(repeats)]
    walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
    return {"wall_s": [round(w, 4) for w in walls], "median_wall_s": round(median(walls), 4),
            "median_cpu_s": round(median(cpus), 4)}


def imports_torch(args: list[str]) -> bool:
    p = subprocess.run([sys.executable, "-c", _WRAPPER, *args], capture_output=True, text=True,
                       env=_env())
    last = p.stdout.rstrip().splitlines()[-1]
    report = json.loads(last[len("STARTUP "):])
    if report["code"] != 0:
        raise RuntimeError(f"motionscope {' '.join(args)} exited {report['code']}: {p.stderr}")
    return report["torch"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    script = Path(sys.executable).parent / "motionscope"
    if not script.is_file():
        raise SystemExit(f"console script {script} not found: pip install -e . first")

    tmp = Path(tempfile.mkdtemp(prefix="startup-"))
    world = tmp / "world"
    commands = {
        "--help": ["--help"],
        "synth --help": ["synth", "--help"],
        "prepare --help": ["prepare", "--help"],
        "stimuli --help": ["stimuli", "--help"],
        "presets": ["presets"],
        "config baseline_skeleton": ["config", "baseline_skeleton"],
        # a tiny real run of each light command (a finished world / output is not redone, so
        # the timed repeats after the warm-up measure start-up plus the up-to-date check)
        "synth (tiny world)": ["synth", "--out", str(world), "--classes", "pick_up,throw",
                               "--clips-per-class", "1", "--frames", "8", "--size", "32x32",
                               "--formats", "skeleton"],
        "info (needs torch)": ["info"],
    }
    results = {}
    for name, cmd in commands.items():
        res = measure([str(script), *cmd], args.repeats)
        res["imports_torch"] = imports_torch(cmd)
        results[name] = res
        print(f"{name:28s} {res['median_wall_s']:.3f} s wall  {res['median_cpu_s']:.3f} s CPU  "
              f"torch={res['imports_torch']}", flush=True)
    # runs that do real work each time (outputs to fresh folders)
    for name, cmd in {
        "prepare ntu (2 files)": lambda k: ["prepare", "ntu", "--raw", str(world / "skeleton"),
                                            "--out", str(tmp / f"ntu{k}"), "--workers", "1"],
        "stimuli (2 conditions)": lambda k: ["stimuli", "--source", str(world), "--out",
                                             str(tmp / f"stim{k}"), "--conditions",
                                             "J-6P,SP-4P-1LT", "--frames", "8",
                                             "--size", "32x32"],
    }.items():
        runs = [_timed_run([str(script), *cmd(k)]) for k in range(args.repeats + 1)][1:]
        walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
        results[name] = {"wall_s": [round(w, 4) for w in walls],
                         "median_wall_s": round(median(walls), 4),
                         "median_cpu_s": round(median(cpus), 4),
                         "imports_torch": imports_torch(cmd("check"))}
        print(f"{name:28s} {results[name]['median_wall_s']:.3f} s wall  "
              f"{results[name]['median_cpu_s']:.3f} s CPU  "
              f"torch={results[name]['imports_torch']}", flush=True)

    ref = {"python -c pass": measure([sys.executable, "-c", "pass"], args.repeats),
           "python -c 'import torch'": measure([sys.executable, "-c", "import torch"],
                                               args.repeats)}
    base = ref["python -c pass"]["median_wall_s"]
    for r in (*results.values(), *ref.values()):
        r["ratio_to_python_pass"] = round(r["median_wall_s"] / base, 2)
    help_s = results["--help"]["median_wall_s"]
    light = [k for k in results if "needs torch" not in k]
    shutil.rmtree(tmp, ignore_errors=True)
    write_result("startup", {
        "what": "wall / CPU seconds of fresh `motionscope ...` processes (console script), "
                "median of repeats after one warm-up, beside bare Python and `import torch`",
        "repeats": args.repeats, "commands": results, "reference": ref,
        "goal_help_s": GOAL_HELP_S, "help_under_goal": help_s < GOAL_HELP_S,
        "light_commands_torch_free": not any(results[k]["imports_torch"] for k in light),
    })


if __name__ == "__main__":
    main()
