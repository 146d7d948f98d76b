"""Screenshots of every experiment page and the README's humans-beside-models chart, from a study
completed by SIMULATED participants (never human data).

    python benchmarks/experiment_images.py --runs RUN1,RUN2 [--participants 30] [--out docs/images]

1. the embedded world (10 BMP classes) -> ``motionscope stimuli`` (RGB, J-6P, SP-8P-1LT) ->
   ``motionscope experiment create``;
2. the server on a loopback port; headless Chromium (Debian's chromium + chromedriver) takes one
   screenshot per page into ``<out>/experiment/``: consent, instructions, practice feedback,
   ready, trial (video playing), trial (answer buttons), questionnaire, completion, admin status;
3. ``--participants`` simulated participants (``motionscope.experiment.simulate``; accuracy per
   condition = the paper's human accuracy, Tab. S6) complete the study through the HTTP API, two
   more miss the catch trials (to show the exclusion);
4. ``motionscope experiment analyze`` with the given runs (bmp-eval is run on the stimuli for each)
   -> ``<out>/experiment_simulated_vs_models.png``, labelled SIMULATED.
Bounded: loopback only, a fixed number of participants, every wait has a timeout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _driver(size=(1000, 1120)):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              f"--window-size={size[0]},{size[1]}", "--mute-audio", "--hide-scrollbars"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                            options=opts)


def _wait(d, cond, what, timeout=30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, timeout, poll_frequency=0.05).until(cond, message=what)


def _screen(d, name):
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-screen") == name, name)
    time.sleep(0.2)


def screenshots(exp: Path, url: str, out: Path, plan: dict) -> list[Path]:
    """One PNG per page of one participant's session (answers: the first practice trial wrong)."""
    import httpx
    from selenium.webdriver.support import expected_conditions as EC

    out.mkdir(parents=True, exist_ok=True)
    shots = []
    d = _driver()
    try:
        def shot(name):
            p = out / f"{name}.png"
            d.save_screenshot(str(p))
            shots.append(p)

        def click(i):
            _wait(d, EC.element_to_be_clickable(("id", i)), i)
            d.find_element("id", i).click()

        def watch():
            click("trial-start")
            _wait(d, lambda d: d.find_element("id", "trial-video").get_attribute("data-played")
                  == "1", "playing")

        def ended():
            _wait(d, lambda d: d.find_element("id", "trial-video").get_attribute("data-ended")
                  == "1", "ended")
            time.sleep(0.1)

        d.get(f"{url}/?participant=screenshot-participant")
        _screen(d, "consent")
        shot("1_consent")
        click("consent-agree")
        _screen(d, "instructions")
        shot("2_instructions")
        click("instructions-continue")
        _screen(d, "practice")
        token = d.current_url.rstrip("/").rsplit("/", 1)[-1]
        slot = httpx.get(f"{url}/api/p/{token}/state", trust_env=False).json()["slot"]
        trials = plan["participants"][slot]["trials"]
        k = plan["num_classes"]
        for n, t in enumerate(x for x in trials if x["kind"] == "practice"):
            watch()
            ended()
            click(f"answer-{(t['label'] + 1) % k if n == 0 else t['label']}")
            _wait(d, lambda d: d.find_element("id", "trial-feedback").is_displayed(), "feedback")
            if n == 0:
                shot("3_practice_feedback")
            click("feedback-continue")
        _screen(d, "ready")
        shot("4_ready")
        click("ready-start")
        _screen(d, "trial")
        main = [x for x in trials if x["kind"] != "practice"]
        for n, t in enumerate(main):
            _wait(d, lambda d, t=t: d.find_element("tag name", "body").get_attribute(
                "data-trial-index") == str(t["index"]), "trial")
            if n == 1:
                _wait(d, EC.element_to_be_clickable(("id", "trial-start")), "start")
                shot("5_trial_start")
            watch()
            if n == 1:
                time.sleep(0.25)
                shot("6_trial_video")
            ended()
            if n == 1:
                shot("7_trial_answer")
            click(f"answer-{t['label']}")
        _screen(d, "questionnaire")
        d.find_element("name", "age").send_keys("34")
        d.find_element("name", "strategy").send_keys("I watched how the wrists moved")
        shot("8_questionnaire")
        click("questionnaire-submit")
        _screen(d, "complete")
        shot("9_complete")
        cfg_token = _admin_token(exp)
        d.get(f"{url}/admin?token={cfg_token}")
        time.sleep(0.5)
        shot("10_admin_status")
    finally:
        d.quit()
    return shots


def _admin_token(exp: Path) -> str:
    from motionscope.experiment.config import load_config

    return load_config(exp)["admin_token"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--runs", default="", help="comma-separated runs for the chart")
    ap.add_argument("--participants", type=int, default=30)
    ap.add_argument("--out", default=str(REPO / "docs" / "images"))
    ap.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    args = ap.parse_args()
    from motionscope.api import experiment_analyze, experiment_create, stimuli, synth
    from motionscope.experiment.simulate import LoopbackServer, simulate_study

    out = Path(args.out)
    work = Path(args.work or tempfile.mkdtemp(prefix="motionscope-expimg-"))
    world, stim, exp = work / "world", work / "stimuli", work / "exp"
    if not (stim / "stimuli.json").is_file():
        synth(world, clips_per_class=6, frames=16, size=(224, 224),
              formats="rgb,skeleton,keypoints", progress=False)
        stimuli(world, stim, "RGB,J-6P,SP-8P-1LT", frames=None, progress=False)
    if not (exp / "plan.json").is_file():
        experiment_create(stim, exp, participants=args.participants, catch=4, practice=2,
                          trials_per_participant=30, progress=False)
    plan = json.loads((exp / "plan.json").read_text())
    db = f"sqlite:///{work / 'images.db'}"
    t0 = time.time()
    for f in (work / "images.db", work / "screens.db"):
        f.unlink(missing_ok=True)
    with LoopbackServer(exp, f"sqlite:///{work / 'screens.db'}") as srv:  # not in the study
        shots = screenshots(exp, srv.url, out / "experiment", plan)
    with LoopbackServer(exp, db) as srv:
        simulate_study(srv.url, plan, args.participants, None, seed=1, concurrency=4)
        simulate_study(srv.url, plan, 2, 0.5, catch_accuracy=0.25, seed=2, first_id=9001)
    runs = [r for r in args.runs.split(",") if r]
    res = experiment_analyze(exp, runs, work / "analysis", db_url=db, progress=False)
    shutil.copyfile(res["files"]["chart"], out / "experiment_simulated_vs_models.png")
    shutil.copyfile(res["files"]["md"], work / "analysis.md")
    print(json.dumps({"screenshots": [str(p) for p in shots], "work": str(work),
                      "chart": str(out / "experiment_simulated_vs_models.png"),
                      "exclusion": res["exclusion"], "seconds": round(time.time() - t0, 1)},
                     indent=1))
    print((work / "analysis.md").read_text())


if __name__ == "__main__":
    main()
