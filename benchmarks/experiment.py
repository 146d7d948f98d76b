"""Load: simulated participants completing a session concurrently over loopback, on SQLite and
PostgreSQL. Writes benchmarks/results/experiment.json.

    python benchmarks/experiment.py [--participants 200] [--trials 150] [--think 2.0] [--db sqlite,postgresql]

The server runs as it is deployed (uvicorn, one process, access log off) in a subprocess; the
participants are asyncio tasks in this process (one keep-alive connection each, as a browser
tab; a lean client of our own, as httpx spent more CPU than the server), each doing what the
page does: enter, consent, instructions, practice, ready, then per trial fetch the video and post
the answer, pausing ``--think`` seconds (+-50 %) between trials (real participants take ~3-4 s
per trial: video + answer, so the default 2 s offers about twice their load), then the
questionnaire. Measured per database: answer latency (p50/p99 of the POST round trip), answers
per second, and rows lost or duplicated: every answer the server acknowledged is compared with
the database afterwards (must be 0 and 0). PostgreSQL is a throwaway server on a loopback port
(``motionscope.experiment.pgtemp``), durable settings (fsync on).
Bounded: loopback only, at most 1000 participants, ``--timeout`` seconds per database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "experiment.json"


def make_experiment(work: Path, trials: int, participants: int) -> Path:
    """A 3-condition, 10-class experiment with ``trials`` main trials per participant (+4
    catch, 2 practice) from a small embedded world (32x32 clips: the load is in the answers)."""
    from motionscope.api import experiment_create, stimuli, synth

    per_class = max(4, -(-trials // 10))  # every source clip shown in one condition only
    exp = work / "exp"
    if (exp / "plan.json").is_file():
        return exp
    synth(work / "world", clips_per_class=per_class, frames=8, size=(32, 32),
          formats="rgb,skeleton,keypoints", progress=False)
    stimuli(work / "world", work / "stimuli", "RGB,J-6P,SP-8P-1LT", frames=None, split="all",
            progress=False)
    experiment_create(work / "stimuli", exp, participants=participants,
                      trials_per_participant=trials, catch=4, practice=2, progress=False)
    return exp


def start_server(exp: Path, db: str, port: int) -> subprocess.Popen:
    code = ("import uvicorn; from motionscope.experiment.app import KEEP_ALIVE_S, build_app; "
            f"uvicorn.run(build_app({str(exp)!r}, {db!r}), host='127.0.0.1', port={port}, "
            "log_level='warning', access_log=False, lifespan='off', server_header=False, "
            "timeout_keep_alive=KEEP_ALIVE_S)")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdin=subprocess.DEVNULL)
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1, trust_env=False).is_success:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not start")


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status_code, self.headers, self.content = status, headers, body

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.content)


class Tab:
    """One participant's browser tab: one keep-alive HTTP/1.1 connection, requests in turn.
    Just enough client for this server's replies (every one has a Content-Length): httpx's
    connection pool spent more CPU per request than the server did, so it measured itself."""

    def __init__(self, host: str, port: int, timeout: float = 30.0):
        self.host, self.port, self.timeout = host, port, timeout
        self.reader = self.writer = None
        self.reconnects = 0

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None

    async def request(self, method: str, path: str, body=None) -> Reply:
        data = b"" if body is None else json.dumps(body).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if body is not None:
            head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
        msg = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        for attempt in range(2):  # a kept-alive connection the server closed: reopen once
            reused = self.writer is not None
            if not reused:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                self.writer.write(msg)
                return await asyncio.wait_for(self._read(), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if not reused or attempt:
                    raise
                self.reconnects += 1
        raise AssertionError("unreachable")

    async def _read(self) -> Reply:
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, headers, body)


async def _send(tab: Tab, method: str, url: str, retries: list, body=None) -> Reply:
    """What the page's ``post()`` does: a network error or a 502/503/504 is retried with the same
    body (so the same submission id), with a growing pause."""
    wait = 0.5
    for attempt in range(9):
        try:
            r = await tab.request(method, url, body)
            if r.status_code not in (502, 503, 504):
                return r
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            await tab.close()
            if attempt == 8:
                raise
        retries.append(url)
        await asyncio.sleep(wait)
        wait = min(2 * wait, 8.0)
    return r


async def participant(tab: Tab, plan: dict, i: int, think: float, lat: list, acks: dict,
                      errors: list, rng: np.random.Generator, retries: list) -> None:
    pid = f"SIMULATED-{i:04d}"

    async def get(url):
        return await _send(tab, "GET", url, retries)

    async def post(url, body):
        return await _send(tab, "POST", url, retries, body)

    try:
        r = await get(f"/?participant={pid}")
        token = r.headers["location"].rsplit("/", 1)[-1]
        api = f"/api/p/{token}"
        st = (await get(f"{api}/state")).json()
        k = plan["num_classes"]
        for _ in range(len(plan["participants"][0]["trials"]) + 8):
            s = st["screen"]
            if s in ("consent", "instructions", "ready"):
                body = {"agree": True} if s == "consent" else {}
                st = (await post(f"{api}/{s}", body)).json()["state"]
            elif s in ("practice", "trial"):
                t = st["trial"]
                v = await get(t["video_url"])
                if v.status_code != 200 or not v.content:
                    raise RuntimeError(f"video HTTP {v.status_code}")
                await asyncio.sleep(think * float(rng.uniform(0.5, 1.5)))
                choice = int(rng.integers(0, k))
                pos = next(b["position"] for b in t["buttons"] if b["label"] == choice)
                body = {"submission_id": uuid.uuid4().hex, "response": choice, "position": pos,
                        "rt_end_ms": 800.0, "rt_start_ms": 1800.0, "video_ended": True,
                        "video_duration_ms": 1000.0, "client_start_ms": time.time() * 1000}
                t0 = time.perf_counter()
                r = await post(f"{api}/trial/{t['index']}", body)
                lat.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"answer HTTP {r.status_code} {r.text[:100]}")
                res = r.json()
                if res["status"] == "stored":
                    acks[(pid, t["index"])] = choice
                st = res["state"]
            elif s == "questionnaire":
                st = (await post(f"{api}/questionnaire", {
                    "submission_id": uuid.uuid4().hex, "answers": {}})).json()["state"]
            elif s == "complete":
                return
            else:
                raise RuntimeError(f"screen {s}")
        raise RuntimeError("session did not end")
    except Exception as e:  # counted and reported, never hidden
        errors.append(f"{pid}: {type(e).__name__}: {e}"[:300])
    finally:
        await tab.close()


async def run_load(port: int, plan: dict, n: int, think: float, timeout: float) -> dict:
    lat: list[float] = []
    acks: dict = {}
    errors: list[str] = []
    retries: list[str] = []
    tabs = [Tab("127.0.0.1", port) for _ in range(n)]
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(participant(tabs[i], plan, i + 1, think, lat, acks, errors,
                                             np.random.default_rng(i), retries))
             for i in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for t in pending:
        t.cancel()
    wall = time.perf_counter() - t0
    return {"lat": lat, "acks": acks, "errors": errors, "wall": wall,
            "unfinished": len(pending), "retries": len(retries),
            "reconnects": sum(t.reconnects for t in tabs)}


def check_rows(exp: Path, db: str, acks: dict) -> dict:
    """Compare the acknowledged answers with the database: lost, changed, duplicated rows."""
    from motionscope.experiment.db import Store

    store = Store(db)
    try:
        parts = {p.id: p.external_id for p in store.all_participants()}
        rows = store.all_trials()
    finally:
        store.dispose()
    seen: dict = {}
    dup = 0
    for t in rows:
        key = (parts[t.participant_id], t.index)
        if key in seen:
            dup += 1
        seen[key] = t.response
    lost = sum(1 for k, v in acks.items() if seen.get(k) != v)
    extra = sum(1 for k, v in seen.items() if v is not None and k not in acks)
    return {"answers_acknowledged": len(acks), "rows_answered": sum(v is not None for v in seen.values()),
            "rows_lost": lost, "rows_duplicated": dup, "rows_unacknowledged": extra}


def bench(exp: Path, db: str, kind: str, n: int, think: float, timeout: float) -> dict:
    from motionscope.experiment.pgtemp import free_port

    plan = json.loads((exp / "plan.json").read_text())
    port = free_port()
    proc = start_server(exp, db, port)
    try:
        res = asyncio.run(run_load(port, plan, n, think, timeout))
    finally:
        proc.terminate()
        proc.wait(30)
    lat = np.asarray(res["lat"]) * 1000
    rows = check_rows(exp, db, res["acks"])
    out = {"database": kind, "participants": n, "think_s": think,
           "trials_per_session": len(plan["participants"][0]["trials"]),
           "answers": int(lat.size), "wall_s": round(res["wall"], 1),
           "answers_per_s": round(lat.size / res["wall"], 1),
           "latency_ms_p50": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
           "latency_ms_p99": round(float(np.percentile(lat, 99)), 1) if lat.size else None,
           "latency_ms_max": round(float(lat.max()), 1) if lat.size else None,
           "participants_unfinished": res["unfinished"], "retries": res["retries"],
           "reconnects": res["reconnects"],
           "errors": len(res["errors"]),
           "first_errors": res["errors"][:5], **rows}
    print(json.dumps(out), flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--participants", type=int, default=200)
    ap.add_argument("--trials", type=int, default=150)
    ap.add_argument("--think", type=float, default=2.0, help="seconds between trials (mean)")
    ap.add_argument("--db", default="sqlite,postgresql")
    ap.add_argument("--timeout", type=float, default=400, help="seconds per database at most")
    ap.add_argument("--work", default=None)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args()
    if not 1 <= args.participants <= 1000:
        raise SystemExit("--participants must be in 1..1000")
    work = Path(args.work or tempfile.mkdtemp(prefix="motionscope-expbench-"))
    work.mkdir(parents=True, exist_ok=True)
    exp = make_experiment(work, args.trials, args.participants)
    results = []
    for kind in [k.strip() for k in args.db.split(",") if k.strip()]:
        if kind == "sqlite":
            f = work / f"bench-{uuid.uuid4().hex[:6]}.db"
            results.append(bench(exp, f"sqlite:///{f}", kind, args.participants, args.think,
                                 args.timeout))
        elif kind == "postgresql":
            from motionscope.experiment.pgtemp import TempPostgres, unavailable_reason

            why = unavailable_reason()
            if why:
                results.append({"database": kind, "skipped": why})
                continue
            with TempPostgres(max_connections=args.participants + 100) as pg:
                results.append(bench(exp, pg.create_database("bench"), kind, args.participants,
                                     args.think, args.timeout))
        else:
            raise SystemExit(f"unknown database {kind!r}")
    doc = {"benchmark": "experiment", "argv": sys.argv[1:], "cpus": os.cpu_count(),
           "affinity": len(os.sched_getaffinity(0)), "python": platform.python_version(),
           "machine": platform.machine(), "load_avg_at_end": os.getloadavg(),
           "note": "server: one uvicorn process; clients: asyncio tasks in the benchmark process "
                   "on the same machine; latency = POST answer round trip",
           "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
