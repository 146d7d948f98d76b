"""Simulated participants that take the experiment through its HTTP API, as the page does.

For tests, the load benchmark (``benchmarks/experiment.py``) and demonstrations of the analysis.
They are *simulated*: their answers come from a policy (by default right with a per-condition
probability), never from people, and nothing they produce may be presented as human data. They
enter with the lab URL parameter ``participant=SIMULATED-<n>`` so that the analysis labels any
study made only of them as SIMULATED (:data:`motionscope.experiment.analyze.SIMULATED_PREFIX`).

Safety: they only talk to a server on the loopback interface (``127.0.0.1``, ``::1`` or
``localhost``), every loop is bounded by the participant's number of trials, and a study is
bounded in participants.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from .analyze import SIMULATED_PREFIX

__all__ = ["simulate_participant", "accuracy_policy", "simulated_id", "check_loopback",
           "LoopbackServer", "simulate_study", "MAX_PARTICIPANTS", "PAPER_HUMAN_ACCURACY"]

Policy = Callable[[dict, np.random.Generator], int]

#: a study of simulated participants is bounded (the benchmark's goal is 200 at once)
MAX_PARTICIPANTS = 2000
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def paper_human_accuracy() -> dict[str, float]:
    """Per-condition accuracy of the paper's humans (Tab. S6) as fractions: a plausible default
    for simulated participants (it is the paper's number, not a measurement made here)."""
    from ..stimuli.conditions import PAPER_TOP1

    return {c: v["Human"] / 100.0 for c, v in PAPER_TOP1.items() if v["Human"] is not None}


PAPER_HUMAN_ACCURACY = paper_human_accuracy()


def simulated_id(i: int) -> str:
    """The recruitment id of simulated participant ``i`` (``SIMULATED-0007``)."""
    return f"{SIMULATED_PREFIX}-{int(i):04d}"


def check_loopback(base_url: str) -> str:
    """``base_url`` without a trailing slash; ValueError unless it is http on a loopback host."""
    u = urlsplit(base_url)
    if u.scheme != "http" or (u.hostname or "") not in _LOOPBACK:
        raise ValueError(f"simulated participants only talk to a server on this machine "
                         f"(http://127.0.0.1:PORT), not {base_url!r}")
    return base_url.rstrip("/")


def accuracy_policy(accuracy: Mapping[str, float] | float, num_classes: int,
                    catch_accuracy: float = 1.0) -> Policy:
    """Right with probability ``accuracy[condition]`` (or one number for all; conditions not
    named: 0.5), else a uniformly drawn wrong class; catch trials right with
    ``catch_accuracy``."""
    def pick(trial: dict, rng: np.random.Generator) -> int:
        if trial["kind"] == "catch":
            p = catch_accuracy
        elif isinstance(accuracy, Mapping):
            p = float(accuracy.get(trial["condition"], 0.5))
        else:
            p = float(accuracy)
        if rng.random() < p:
            return int(trial["label"])
        wrong = [c for c in range(num_classes) if c != trial["label"]]
        return int(rng.choice(wrong))
    return pick


def _ok(r, what: str) -> Any:
    if r.status_code != 200:
        raise RuntimeError(f"{what}: HTTP {r.status_code} {r.text[:200]}")
    return r.json()


def _answer_body(choice: int, pos: int, rng: np.random.Generator) -> dict:
    dur = float(rng.uniform(500, 1500))  # ms the video played
    rt = float(rng.lognormal(6.7, 0.4))  # ms from the video's end (median ~0.8 s)
    return {"submission_id": uuid.uuid4().hex, "response": int(choice), "position": int(pos),
            "rt_end_ms": rt, "rt_start_ms": rt + dur, "video_ended": True,
            "video_duration_ms": dur, "client_start_ms": time.time() * 1000.0}


def simulate_participant(client, plan: dict, policy: Policy, *, params: dict | None = None,
                         seed: int = 0, questionnaire: dict | None = None,
                         fetch_videos: bool = True, on_answer: Callable | None = None) -> dict:
    """Take the whole experiment with ``client`` (an ``httpx.Client`` or FastAPI ``TestClient``
    pointing at the server): entry with ``params`` (recruitment URL parameters), consent,
    instructions, practice, ready, every trial answered by ``policy(plan_trial, rng)``, the
    questionnaire. Returns ``{"token", "slot", "answers": {index: response}, "completion"}``.
    ``on_answer(index, seconds)`` is called with each answer's round-trip time."""
    rng = np.random.default_rng(seed)
    r = client.get("/", params=params or {}, follow_redirects=False)
    if r.status_code != 303:
        raise RuntimeError(f"entry: HTTP {r.status_code} {r.text[:200]}")
    token = r.headers["location"].rsplit("/", 1)[-1]
    api = f"/api/p/{token}"
    st = _ok(client.get(f"{api}/state"), "state")
    answers: dict[int, int] = {}
    longest = max(len(s["trials"]) for s in plan["participants"])
    for _ in range(longest + 8):  # every step moves the state on: bounded
        screen = st["screen"]
        if screen == "consent":
            st = _ok(client.post(f"{api}/consent", json={"agree": True}), "consent")["state"]
        elif screen == "instructions":
            st = _ok(client.post(f"{api}/instructions", json={}), "instructions")["state"]
        elif screen == "ready":
            st = _ok(client.post(f"{api}/ready", json={}), "ready")["state"]
        elif screen in ("practice", "trial"):
            t = st["trial"]
            planned = plan["participants"][st["slot"]]["trials"][t["index"]]
            if fetch_videos:
                v = client.get(t["video_url"])
                if v.status_code != 200 or not v.content:
                    raise RuntimeError(f"video of trial {t['index']}: HTTP {v.status_code}")
            choice = policy(planned, rng)
            pos = next(b["position"] for b in t["buttons"] if b["label"] == choice)
            body = _answer_body(choice, pos, rng)
            t0 = time.perf_counter()
            res = _ok(client.post(f"{api}/trial/{t['index']}", json=body), f"trial {t['index']}")
            if on_answer is not None:
                on_answer(t["index"], time.perf_counter() - t0)
            answers[t["index"]] = choice
            st = res["state"]
        elif screen == "questionnaire":
            body = {"submission_id": uuid.uuid4().hex, "answers": dict(questionnaire or {})}
            st = _ok(client.post(f"{api}/questionnaire", json=body), "questionnaire")["state"]
        elif screen == "complete":
            return {"token": token, "slot": st["slot"], "answers": answers,
                    "completion": st["completion"]}
        else:
            raise RuntimeError(f"unexpected screen {screen!r}")
    raise RuntimeError(f"participant {token}: the session did not end after {longest + 8} steps")


class LoopbackServer:
    """The experiment app served by uvicorn in a thread of this process, on a free port of
    127.0.0.1: ``with LoopbackServer(EXP, db_url) as srv: srv.url``. For tests, screenshots and
    demonstrations; ``motionscope experiment serve`` is the real thing."""

    def __init__(self, experiment, db_url: str | None = None, port: int | None = None,
                 timeout: float = 30.0):
        self.experiment, self.db_url, self.timeout = experiment, db_url, float(timeout)
        self.port = port
        self.app = None
        self._server = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LoopbackServer:
        import uvicorn

        from .app import build_app
        from .pgtemp import free_port

        self.app = build_app(self.experiment, self.db_url)
        self.port = self.port or free_port()
        cfg = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                             lifespan="off", server_header=False)
        self._server = uvicorn.Server(cfg)
        self._thread = threading.Thread(target=self._server.run, daemon=True,
                                        name="motionscope-experiment-server")
        self._thread.start()
        deadline = time.monotonic() + self.timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the experiment server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(self.timeout)
        srv = getattr(self.app, "server", None) if self.app is not None else None
        if srv is not None:
            srv.store.dispose()
        self._server = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def simulate_study(base_url: str, plan: dict, participants: int,
                   accuracy: Mapping[str, float] | float | None = None, *,
                   catch_accuracy: float = 1.0, seed: int = 0, first_id: int = 1,
                   concurrency: int = 4, fetch_videos: bool = False,
                   questionnaire: dict | None = None, timeout: float = 30.0) -> list[dict]:
    """``participants`` simulated participants (ids ``SIMULATED-<first_id>``...) complete the
    study served at ``base_url`` (loopback only), ``concurrency`` at a time, answering right
    with ``accuracy`` per condition (default: the paper's human accuracies, Tab. S6; catch
    trials with ``catch_accuracy``). Returns each participant's result
    (:func:`simulate_participant`) plus its ``id``."""
    import httpx

    base = check_loopback(base_url)
    if not 1 <= participants <= MAX_PARTICIPANTS:
        raise ValueError(f"participants must be in 1..{MAX_PARTICIPANTS}, got {participants}")
    policy = accuracy_policy(PAPER_HUMAN_ACCURACY if accuracy is None else accuracy,
                             int(plan["num_classes"]), catch_accuracy)

    def one(i: int) -> dict:
        pid = simulated_id(first_id + i)
        with httpx.Client(base_url=base, timeout=timeout, trust_env=False) as client:
            res = simulate_participant(client, plan, policy, params={"participant": pid},
                                       seed=seed * 100003 + first_id + i,
                                       questionnaire=questionnaire, fetch_videos=fetch_videos)
        return {"id": pid, **res}

    with ThreadPoolExecutor(max_workers=max(1, min(int(concurrency), 64))) as pool:
        return list(pool.map(one, range(participants)))
