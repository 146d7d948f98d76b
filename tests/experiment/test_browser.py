"""The experiment as a participant meets it: the real server (uvicorn on a loopback port) driven
by the system's headless Chromium through Selenium, on SQLite and on PostgreSQL.

A participant gives consent, reads the instructions, answers a practice trial wrongly and sees
"Wrong selection!", answers the other rightly, passes the ready page, watches every video to its
end (the page records each ``ended`` event) and answers, reloads the page in the middle and is
resumed at the next unanswered trial, fills the questionnaire and receives the completion code.
The exported CSV then holds exactly the answers given. Skips (with the reason) where chromium or
chromedriver are not installed; ``.ci/run`` installs them.
"""

from __future__ import annotations

import csv
import json

import pytest

pytestmark = pytest.mark.slow

WAIT = 30  # seconds any one page change may take on a loaded 2-core machine


@pytest.fixture(scope="module")
def browser_experiment(tiny_stimuli, tmp_path_factory):
    """A tiny experiment: 2 practice, 6 main and 2 catch trials of 0.6 s videos."""
    from motionscope.api import experiment_create

    exp = tmp_path_factory.mktemp("browser") / "exp"
    experiment_create(tiny_stimuli, exp, participants=2, trials_per_participant=6, catch=2,
                      practice=2, progress=False)
    return exp


@pytest.fixture
def driver(chromium_paths):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    browser, chromedriver = chromium_paths
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1000,900", "--mute-audio", "--no-first-run",
              "--disable-background-networking", "--disable-extensions"):
        opts.add_argument(a)
    try:
        d = webdriver.Chrome(service=Service(chromedriver), options=opts)
    except Exception as e:  # a browser that cannot start here is a set-up problem, said once
        pytest.skip(f"headless chromium did not start ({type(e).__name__}: {str(e)[:300]})")
    d.set_page_load_timeout(WAIT)
    yield d
    d.quit()


def _wait(d, cond, what: str):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(d, WAIT, poll_frequency=0.05).until(cond, message=f"waiting for {what}")


def _screen(d, name: str) -> None:
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-screen") == name,
          f"the {name} screen")


def _click(d, element_id: str) -> None:
    from selenium.webdriver.support import expected_conditions as EC

    _wait(d, EC.element_to_be_clickable(("id", element_id)), f"#{element_id} to be clickable")
    d.find_element("id", element_id).click()


def _events(d) -> list[dict]:
    return d.execute_script("return (window.motionscope && window.motionscope.events) || []")


def _watch(d, index: int) -> None:
    """Start the video of trial ``index`` and wait until it played to its end."""
    _wait(d, lambda d: d.find_element("tag name", "body").get_attribute("data-trial-index")
          == str(index), f"trial {index}")
    _click(d, "trial-start")
    _wait(d, lambda d: d.find_element("id", "trial-video").get_attribute("data-ended") == "1",
          f"the video of trial {index} to end")
    assert d.find_element("id", "trial-video").get_attribute("data-played") == "1"


def _answer(d, label: int, by_key: bool = False) -> None:
    btn = d.find_element("id", f"answer-{label}")
    _wait(d, lambda d: btn.is_enabled() and btn.is_displayed(), f"answer button {label}")
    if by_key:  # the keyboard shortcut of the button's (shuffled) position
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(d).send_keys(btn.get_attribute("data-key")).perform()
    else:
        btn.click()


def test_participant_in_headless_chromium(browser_experiment, db_url, driver, tmp_path, capsys):
    from motionscope.experiment.simulate import LoopbackServer
    from motionscope.testing import run_cli

    exp = browser_experiment
    plan = json.loads((exp / "plan.json").read_text())
    k = plan["num_classes"]
    given: dict[int, int] = {}
    ended: set[int] = set()
    with LoopbackServer(exp, db_url) as srv:
        d = driver
        d.get(f"{srv.url}/?participant=browser-participant")
        _screen(d, "consent")
        assert "consent" in d.find_element("id", "consent-text").text.lower()
        _click(d, "consent-agree")
        _screen(d, "instructions")
        _click(d, "instructions-continue")
        _screen(d, "practice")
        token = d.current_url.rstrip("/").rsplit("/", 1)[-1]
        import httpx

        state = httpx.get(f"{srv.url}/api/p/{token}/state", trust_env=False).json()
        trials = plan["participants"][state["slot"]]["trials"]
        practice = [t for t in trials if t["kind"] == "practice"]
        main = [t for t in trials if t["kind"] != "practice"]
        assert len(practice) == 2 and len(main) == 8

        # practice 1: a wrong answer shows the feedback; practice 2: a right one
        for n, t in enumerate(practice):
            _watch(d, t["index"])
            choice = (t["label"] + 1) % k if n == 0 else t["label"]
            _answer(d, choice)
            given[t["index"]] = choice
            fb = d.find_element("id", "trial-feedback")
            _wait(d, lambda d, fb=fb: fb.is_displayed(), "the practice feedback")
            assert fb.text == ("Wrong selection!" if n == 0 else "Correct!")
            assert fb.get_attribute("data-correct") == ("0" if n == 0 else "1")
            _click(d, "feedback-continue")
        _screen(d, "ready")
        _click(d, "ready-start")
        _screen(d, "trial")

        half = len(main) // 2
        for n, t in enumerate(main):
            if n == half:  # a reload in the middle resumes at the next unanswered trial
                # once the page shows that trial, i.e. the last answer was acknowledged (a reload
                # while it is in flight may or may not store it: both are consistent states)
                _wait(d, lambda d, i=t["index"]: d.find_element("tag name", "body").get_attribute(
                    "data-trial-index") == str(i), f"trial {t['index']} before the reload")
                ended |= {e["index"] for e in _events(d) if e["type"] == "ended"}
                d.refresh()
                _screen(d, "trial")
                assert d.find_element("tag name", "body").get_attribute(
                    "data-trial-index") == str(t["index"])
                want = f"{n} / {len(main)}"
                _wait(d, lambda d, want=want: d.find_element("id", "progress-text").text == want,
                      "the progress after the reload")
            _watch(d, t["index"])
            choice = t["label"] if n % 3 else (t["label"] + 2) % k
            _answer(d, choice, by_key=n % 2 == 1)
            given[t["index"]] = choice
        ended |= {e["index"] for e in _events(d) if e["type"] == "ended"}

        _screen(d, "questionnaire")
        d.find_element("name", "age").send_keys("34")
        d.find_element("name", "strategy").send_keys("I followed the wrists")
        _click(d, "questionnaire-submit")
        _screen(d, "complete")
        code = d.find_element("id", "completion-code").text
        final = httpx.get(f"{srv.url}/api/p/{token}/state", trust_env=False).json()
        assert code and code == final["completion"]["code"]
        # reopening the link shows the completion again, not a new session
        d.get(f"{srv.url}/p/{token}")
        _screen(d, "complete")

    # every video played to its end in the page
    assert ended == {t["index"] for t in trials}

    code_, out, err = run_cli(capsys, "experiment", "export", str(exp), "--out",
                              str(tmp_path / "export"), "--db", db_url)
    assert code_ == 0, err
    rows = [r for r in csv.DictReader(open(tmp_path / "export" / "trials.csv", newline=""))
            if r["external_id"] == "browser-participant"]
    assert sorted(int(r["trial_index"]) for r in rows) == sorted(given)
    for r in rows:
        i = int(r["trial_index"])
        assert int(r["response"]) == given[i], f"trial {i}"
        assert r["correct"] == str(int(given[i] == int(r["label"])))
        assert r["video_ended"] == "1"
        assert float(r["rt_end_ms"]) > 0 and float(r["rt_start_ms"]) > float(r["rt_end_ms"])
        assert r["is_practice"] == str(int(r["kind"] == "practice"))
    quest = list(csv.DictReader(open(tmp_path / "export" / "questionnaire.csv", newline="")))
    assert [(q["external_id"], q["age"], q["strategy"]) for q in quest] == [
        ("browser-participant", "34", "I followed the wrists")]
