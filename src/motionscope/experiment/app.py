"""The experiment server: a FastAPI app (run by uvicorn) for one experiment folder.

:func:`build_app` checks everything before the first request (settings, plan, every video,
the database and its migrations), so a broken folder or an unreachable database is one clear
error at start. Then each participant has one page, ``/p/<token>``, whose script asks
``/api/p/<token>/state`` what to show and posts each step; the server decides the order
(consent -> instructions -> practice -> ready -> trials -> questionnaire -> complete), so a
reload resumes where the participant was. Errors are short JSON replies: 4xx for bad requests,
503 while the database is unreachable, never a traceback.
"""

from __future__ import annotations

import html
import json
import logging
import math
import os
import re
import secrets
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .config import questionnaire_fields
from .db import Conflict, DatabaseUnavailable, NotFound, Participant, Snapshot, Store
from .folder import Experiment, load_experiment

__all__ = ["build_app", "ExperimentServer"]

log = logging.getLogger("motionscope.experiment")
_STATIC = resources.files("motionscope.experiment") / "static"
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,128}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
COOKIE = "ms_participant"
VIDEO_CACHE_BYTES = 256 * 2**20  # clips kept in memory by the server (the rest read per request)
KEEP_ALIVE_S = 30  # idle keep-alive (uvicorn's default 5 s drops connections between trials)
_RECRUIT = {  # platform -> (participant, study, session) URL parameters
    "prolific": ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID"),
    "mturk": ("workerId", "hitId", "assignmentId"),
    "lab": ("participant", "study", "session"),
}


class _Error(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


# ----------------------------------------------------------------------------- request bodies
_Ms = Annotated[float, Field(ge=0, le=1e8, allow_inf_nan=False)]
_Sub = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    agree: bool


class EmptyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AnswerBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # "2" is not an answer
    submission_id: _Sub
    response: Annotated[int, Field(ge=0, le=999)]
    position: Annotated[int, Field(ge=0, le=999)]
    rt_end_ms: _Ms | None = None
    rt_start_ms: _Ms | None = None
    video_ended: bool
    video_duration_ms: _Ms | None = None
    client_start_ms: Annotated[float, Field(ge=0, le=1e14, allow_inf_nan=False)] | None = None


class QuestionnaireBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    submission_id: _Sub
    answers: dict[str, str]


# ----------------------------------------------------------------------------- middleware
class _Limits:
    """Pure ASGI: refuse bodies over ``max_body`` bytes (413, also when streamed without a
    Content-Length) and POSTs to the API that are not JSON (415: a cross-site form post cannot
    send JSON without a CORS preflight, which this server never grants); security headers on
    every reply."""

    def __init__(self, app, max_body: int):
        self.app, self.max_body = app, int(max_body)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if scope["method"] not in ("GET", "HEAD", "POST"):
            return await _send_json(send, 405, "method not allowed")
        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            return await _send_json(send, 400, "bad Content-Length")
        if length > self.max_body:
            return await _send_json(send, 413, f"request body over {self.max_body} bytes")
        if scope["method"] == "POST":
            ctype = headers.get("content-type", "").split(";")[0].strip().lower()
            if ctype != "application/json":
                return await _send_json(send, 415, "send JSON (Content-Type: application/json)")
        seen, too_large = 0, False

        async def limited_receive():
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.disconnect"}
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.max_body:  # streamed without a Content-Length
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return msg

        replaced = False

        async def send_with_headers(msg):
            nonlocal replaced
            if replaced:
                return
            if msg["type"] == "http.response.start":
                if too_large:  # whatever the app made of a cut body: 413
                    replaced = True
                    return await _send_json(send, 413, f"request body over {self.max_body} bytes")
                extra = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                         (b"x-frame-options", b"DENY"),
                         (b"content-security-policy",
                          b"default-src 'self'; media-src 'self' blob:; img-src 'self' data:; "
                          b"style-src 'self' 'unsafe-inline'; script-src 'self'; "
                          b"frame-ancestors 'none'")]
                msg = {**msg, "headers": list(msg.get("headers", [])) + extra}
            await send(msg)

        await self.app(scope, limited_receive, send_with_headers)


async def _send_json(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


# ----------------------------------------------------------------------------- the server
class ExperimentServer:
    """The state machine of one experiment over a :class:`~.db.Store`."""

    def __init__(self, exp: Experiment, store: Store):
        self.exp, self.store, self.cfg = exp, store, exp.cfg
        self.classes = exp.classes
        self.fields = questionnaire_fields(self.cfg.text("questionnaire"))
        self.page = self._page()
        self._videos: dict[str, tuple[Path, bytes]] = {}
        self._video_bytes, self._video_lock = 0, threading.Lock()

    def _page(self) -> str:
        tpl = (_STATIC / "page.html").read_text(encoding="utf-8")
        values = {"title": html.escape(self.cfg["title"]), "width": str(self.cfg["video.width"]),
                  "height": str(self.cfg["video.height"])}
        for name in ("consent", "instructions", "ready", "questionnaire"):
            values[name] = self.cfg.text(name)  # the experimenter's own HTML
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values.get(m.group(1), m.group(0)), tpl)

    # -- recruitment
    def enter(self, params: dict[str, str], cookie: str | None, ip: str | None) -> str | None:
        """The token of the participant these URL parameters name (created when new), or None
        for an MTurk preview."""
        platform = self.cfg["recruitment.platform"]
        if platform == "any":
            platform = next((p for p in ("prolific", "mturk") if _RECRUIT[p][0] in params), "lab")
        pid_key, study_key, session_key = _RECRUIT[platform]
        if platform == "mturk" and params.get("assignmentId") == "ASSIGNMENT_ID_NOT_AVAILABLE":
            return None
        values = {}
        for k in (pid_key, study_key, session_key):
            v = params.get(k, "")
            if v and not _ID.match(v):
                raise _Error(400, f"URL parameter {k}: letters, digits and _ . : @ - only, at most "
                                  "128 characters")
            values[k] = v
        if platform == "lab" and not values[pid_key]:
            if cookie and _TOKEN.match(cookie):
                try:
                    p = self.store.participant(cookie)
                    if p.completed_at is None and p.declined_at is None:
                        return p.token  # the same browser, not finished: resume
                except NotFound:
                    pass
            values[pid_key] = "lab-" + secrets.token_hex(6)
        if not values[pid_key]:
            raise _Error(400, f"this study is run on {platform}: open it from the {platform} link "
                              f"(the URL parameter {pid_key} is missing)")
        found = self.store.find_participant(platform, values[pid_key], values[study_key])
        if found is not None:
            return found.token
        p = self.store.create_participant(
            platform=platform, external_id=values[pid_key], study_id=values[study_key],
            session_id=values[session_key], ip=ip if self.cfg["privacy.store_ip"] else None,
            plan=self.exp.plan, completion_code=self.cfg["completion.code"])
        return p.token

    def participant(self, token: str) -> Participant:
        return self.store.participant(_checked(token))

    def snapshot(self, token: str) -> Snapshot:
        return self.store.snapshot(_checked(token))

    # -- state
    def state(self, snap: Snapshot) -> dict:
        """What the page shows now, from one :class:`~.db.Snapshot` (one database read)."""
        p, counts = snap.participant, snap.counts
        prac = counts.get("practice", (0, 0))
        main = tuple(map(sum, zip(counts.get("test", (0, 0)), counts.get("catch", (0, 0)))))
        out: dict[str, Any] = {"slot": p.slot, "trial": None, "progress": None,
                               "config": {"answer_after_video": self.cfg["trial.answer_after_video"]}}
        if p.declined_at is not None:
            screen = "declined"
        elif p.consent_at is None:
            screen = "consent"
        elif p.instructions_at is None:
            screen = "instructions"
        elif prac[0] < prac[1]:
            screen = "practice"
        elif p.ready_at is None:
            screen = "ready"
        elif main[0] < main[1]:
            screen = "trial"
        elif p.completed_at is None:
            screen = "questionnaire"
        else:
            screen = "complete"
            out["completion"] = {"code": p.completion_code, "redirect_url": self._redirect(p),
                                 "redirect_delay_s": self.cfg["completion.redirect_delay_s"]}
        out["screen"] = screen
        if screen in ("practice", "trial"):
            t = snap.next
            done, total = prac if screen == "practice" else main
            out["progress"] = {"block": "practice" if screen == "practice" else "main",
                               "done": done, "total": total}
            order = json.loads(t.buttons)
            head = (f"Practice trial {done + 1} of {total}" if screen == "practice"
                    else f"Trial {done + 1} of {total}")
            out["trial"] = {"index": t.index, "kind": t.kind if screen == "trial" else "practice",
                            "heading": head, "video_url": f"/p/{p.token}/video/{t.index}",
                            "buttons": [{"label": c, "name": self.classes[c], "position": i}
                                        for i, c in enumerate(order)]}
            if t.kind == "catch":
                out["trial"]["kind"] = "test"  # a catch trial looks like any other trial
        return out

    def _redirect(self, p: Participant) -> str | None:
        url = self.cfg["completion.redirect_url"]
        return None if url is None else url.replace("{code}", p.completion_code)

    # -- steps
    def answer(self, token: str, index: int, body: AnswerBody) -> dict:
        """Store one answer and return the next state: one database transaction."""
        k = len(self.classes)
        if not (0 <= body.response < k and 0 <= body.position < k):
            raise _Error(422, f"response and position must be in 0..{k - 1}")
        status, t, snap = self.store.answer(
            _checked(token), index, response=body.response, position=body.position,
            submission_id=body.submission_id, rt_end_ms=_finite(body.rt_end_ms),
            rt_start_ms=_finite(body.rt_start_ms), video_ended=body.video_ended,
            video_duration_ms=_finite(body.video_duration_ms),
            client_start_ms=_finite(body.client_start_ms))
        out: dict[str, Any] = {"status": status, "state": self.state(snap)}
        if t.kind == "practice":
            right = bool(t.correct)
            out["feedback"] = {"correct": right, "text": self.cfg[
                "practice.feedback_right" if right else "practice.feedback_wrong"]}
        return out

    def questionnaire(self, p: Participant, body: QuestionnaireBody) -> dict:
        unknown = sorted(set(body.answers) - set(self.fields))
        if unknown:
            raise _Error(422, f"unknown questionnaire field {unknown[0]!r}")
        limit = self.cfg["limits.max_answer_chars"]
        if any(len(v) > limit for v in body.answers.values()):
            raise _Error(422, f"an answer is longer than {limit} characters")
        answers = {f: body.answers.get(f, "") for f in self.fields}
        status = self.store.submit_questionnaire(p, answers, body.submission_id)
        return {"status": status, "state": self.state(self.store.snapshot(p.token))}

    def video(self, token: str, index: int) -> tuple[Path, bytes | None]:
        """The clip of the participant's current trial (no other is served; one database read):
        its path, and its bytes while the clips read so far fit in :data:`VIDEO_CACHE_BYTES`
        (stimuli are small and read on every trial; None: serve the file)."""
        snap = self.snapshot(token)
        p, t = snap.participant, snap.next
        if t is None or t.index != index or (t.kind != "practice" and p.ready_at is None):
            raise NotFound("no such video now")
        hit = self._videos.get(t.video)
        if hit is not None:
            return hit
        try:
            path = self.exp.video_path(t.video)
        except KeyError:
            raise NotFound("no such video") from None
        data = None
        size = path.stat().st_size
        if self._video_bytes + size <= VIDEO_CACHE_BYTES:
            data = path.read_bytes()
            with self._video_lock:
                if t.video not in self._videos:
                    self._videos[t.video] = (path, data)
                    self._video_bytes += len(data)
        return path, data

    def status(self) -> dict:
        from .export import participant_summaries

        parts = self.store.all_participants()
        trials = self.store.all_trials()
        summ = participant_summaries(parts, trials, self.cfg["catch.min_correct"])
        per: dict[str, dict] = {c: {"answered": 0, "correct": 0} for c in self.exp.plan["conditions"]}
        for t in trials:
            if t.kind == "test" and t.response is not None:
                d = per.setdefault(t.condition, {"answered": 0, "correct": 0})
                d["answered"] += 1
                d["correct"] += bool(t.correct)
        return {
            "experiment": self.exp.id, "title": self.cfg["title"],
            "participants": {"started": len(parts),
                             "consented": sum(p.consent_at is not None for p in parts),
                             "declined": sum(p.declined_at is not None for p in parts),
                             "completed": sum(p.completed_at is not None for p in parts),
                             "excluded": sum(s["excluded"] for s in summ.values()),
                             "plan_slots": len(self.exp.plan["participants"])},
            "trials_per_condition": per,
            "answered_trials": sum(t.response is not None for t in trials),
        }


def _checked(token: str) -> str:
    if not _TOKEN.match(token):
        raise NotFound("unknown participant")
    return token


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def _admin_html(st: dict) -> str:
    e = html.escape
    rows = "".join(f"<tr><td>{e(c)}</td><td>{d['answered']}</td><td>{d['correct']}</td>"
                   f"<td>{(100 * d['correct'] / d['answered']) if d['answered'] else 0:.1f}</td></tr>"
                   for c, d in st["trials_per_condition"].items())
    p = st["participants"]
    items = "".join(f"<li id='admin-{e(k)}'>{e(k)}: <strong>{v}</strong></li>" for k, v in p.items())
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><meta name='referrer' "
            "content='no-referrer'><title>status</title><link rel='stylesheet' "
            "href='/static/experiment.css'></head><body data-screen='admin'><main>"
            f"<h2>{e(st['title'])}: status</h2><ul id='admin-participants'>{items}</ul>"
            "<table id='admin-conditions'><tr><th>condition</th><th>answered</th><th>correct</th>"
            f"<th>% correct</th></tr>{rows}</table>"
            f"<p id='admin-answered'>answered trials: {st['answered_trials']}</p></main></body></html>")


# ----------------------------------------------------------------------------- the app
def build_app(experiment: str | os.PathLike, db_url: str | None = None, *,
              store: Store | None = None) -> FastAPI:
    """The app for the experiment folder ``experiment`` on the database ``db_url`` (default:
    the SQLite file ``EXP/experiment.db``). Checks the folder, every video and the database
    (migrating it) first: :class:`~motionscope.errors.DataError` / ``ConfigError`` on failure.

    For tests: ``TestClient(build_app(exp, "sqlite:///x.db"))``; for a real server:
    ``uvicorn.run(build_app(exp), ...)`` (what ``motionscope experiment serve`` does)."""
    exp = load_experiment(experiment)
    exp.check_videos()
    store = store or Store(db_url or exp.default_db_url())
    try:
        store.migrate(exp.id)
    except Exception:
        store.dispose()
        raise
    srv = ExperimentServer(exp, store)
    app = FastAPI(title="motionscope experiment", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = srv
    app.mount("/static", StaticFiles(directory=str(_STATIC)), name="static")

    @app.exception_handler(_Error)
    async def _err(_req, e: _Error):
        return JSONResponse({"detail": e.detail}, status_code=e.status)

    @app.exception_handler(NotFound)
    async def _nf(_req, e: NotFound):
        return JSONResponse({"detail": str(e) or "not found"}, status_code=404)

    @app.exception_handler(Conflict)
    async def _cf(_req, e: Conflict):
        return JSONResponse({"detail": str(e)}, status_code=409)

    @app.exception_handler(DatabaseUnavailable)
    async def _du(_req, e: DatabaseUnavailable):
        log.error("database unavailable: %s", e)
        return JSONResponse({"detail": "the database is unavailable; please retry shortly"},
                            status_code=503, headers={"Retry-After": "2"})

    @app.exception_handler(RequestValidationError)
    async def _ve(_req, e: RequestValidationError):
        errs = e.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return JSONResponse({"detail": f"invalid request: {where or 'body'}: "
                                       f"{first.get('msg', 'invalid')}"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_req, e: StarletteHTTPException):
        return JSONResponse({"detail": str(e.detail)}, status_code=e.status_code)

    @app.exception_handler(Exception)
    async def _any(_req, e: Exception):
        log.exception("internal error")
        return JSONResponse({"detail": "internal error"}, status_code=500)

    def _who(token: str) -> Participant:
        return srv.participant(token)

    @app.get("/", response_class=HTMLResponse)
    def entry(request: Request):
        params = dict(request.query_params)
        ip = request.client.host if request.client else None
        token = srv.enter(params, request.cookies.get(COOKIE), ip)
        if token is None:
            page = srv.page.replace('data-screen="loading"', 'data-screen="preview"')
            return HTMLResponse(page.replace('data-token="{{token}}"', 'data-token=""'))
        r = RedirectResponse(f"/p/{token}", status_code=303)
        r.set_cookie(COOKIE, token, httponly=True, samesite="lax", max_age=7 * 86400)
        return r

    @app.get("/p/{token}", response_class=HTMLResponse)
    def page(token: str):
        p = _who(token)
        return HTMLResponse(srv.page.replace("{{token}}", p.token),
                            headers={"Cache-Control": "no-store"})

    @app.get("/api/p/{token}/state")
    def state(token: str):
        return JSONResponse(srv.state(srv.snapshot(token)), headers={"Cache-Control": "no-store"})

    @app.post("/api/p/{token}/consent")
    def consent(token: str, body: ConsentBody):
        return JSONResponse({"state": srv.state(srv.store.mark(
            _checked(token), "consent" if body.agree else "declined"))})

    @app.post("/api/p/{token}/instructions")
    def instructions(token: str, body: EmptyBody):
        return JSONResponse({"state": srv.state(srv.store.mark(_checked(token), "instructions"))})

    @app.post("/api/p/{token}/ready")
    def ready(token: str, body: EmptyBody):
        return JSONResponse({"state": srv.state(srv.store.mark(_checked(token), "ready"))})

    @app.post("/api/p/{token}/trial/{index}")
    def answer(token: str, index: int, body: AnswerBody):
        if not 0 <= index < 100000:
            raise NotFound("no such trial")
        return JSONResponse(srv.answer(token, index, body))  # already plain JSON types

    @app.post("/api/p/{token}/questionnaire")
    def questionnaire(token: str, body: QuestionnaireBody):
        return srv.questionnaire(_who(token), body)

    @app.get("/p/{token}/video/{index}")
    def video(token: str, index: int):
        path, data = srv.video(token, index)
        headers = {"Cache-Control": "private, no-store"}
        if data is not None:
            return Response(data, media_type=Experiment.media_type(path), headers=headers)
        return FileResponse(path, media_type=Experiment.media_type(path), headers=headers)

    def _admin_ok(request: Request) -> None:
        want = srv.cfg["admin_token"]
        auth = request.headers.get("authorization", "")
        given = auth[7:] if auth.lower().startswith("bearer ") else request.query_params.get("token", "")
        if not given or not secrets.compare_digest(given.encode(), want.encode()):
            raise _Error(401, "admin token required (Authorization: Bearer TOKEN or ?token=TOKEN)")

    @app.get("/api/admin/status")
    def admin_status(request: Request):
        _admin_ok(request)
        return JSONResponse(srv.status(), headers={"Cache-Control": "no-store"})

    @app.get("/admin", response_class=HTMLResponse)
    def admin_page(request: Request):
        _admin_ok(request)
        return HTMLResponse(_admin_html(srv.status()), headers={"Cache-Control": "no-store"})

    @app.get("/healthz")
    def healthz():
        srv.store.ping()
        return {"ok": True}

    wrapped = _Limits(app, srv.cfg["limits.max_body_bytes"])
    wrapped.fastapi, wrapped.server = app, srv
    return wrapped  # type: ignore[return-value]


def experiment_status(experiment: str | os.PathLike, db_url: str | None = None) -> dict:
    """What the admin page shows (participants started, completed, excluded; trials per
    condition), read straight from the database."""
    exp = load_experiment(experiment)
    store = Store(db_url or exp.default_db_url())
    try:
        store.migrate(exp.id)
        return ExperimentServer(exp, store).status()
    finally:
        store.dispose()


def serve(experiment: str | os.PathLike, host: str = "127.0.0.1", port: int = 8000,
          db_url: str | None = None, proxy_headers: bool = False,
          log_level: str = "info", announce=print) -> None:
    """Check the folder and the database, then serve the experiment with uvicorn until
    interrupted. ``proxy_headers``: trust ``X-Forwarded-*`` from a reverse proxy on this host
    (for the stored IP when ``privacy.store_ip``, and for redirects)."""
    import uvicorn

    if not 0 < int(port) < 65536:
        from ..errors import ConfigError

        raise ConfigError(f"--port must be in 1..65535, got {port}")
    import socket

    try:  # a taken port is one clear error, before anything else starts
        with socket.create_server((host, int(port))):
            pass
    except OSError as e:
        from ..errors import DataError

        raise DataError(None, f"cannot listen on {host}:{port} ({e.strerror or e}); choose "
                              "another --port or --host") from None
    app = build_app(experiment, db_url)
    srv: ExperimentServer = app.server  # type: ignore[attr-defined]
    base = f"http://{host}:{port}"
    from .db import safe_url

    announce(f"experiment {srv.exp.root} ({len(srv.exp.plan['participants'])} plan slots, "
             f"{srv.cfg['recruitment.platform']} recruitment) on {safe_url(srv.store.url)}")
    announce(f"participants: {base}/   admin: {base}/admin?token={srv.cfg['admin_token']}")
    config = uvicorn.Config(app, host=host, port=int(port), log_level=log_level, lifespan="off",
                            proxy_headers=proxy_headers, server_header=False,
                            timeout_keep_alive=KEEP_ALIVE_S,
                            forwarded_allow_ips="127.0.0.1" if proxy_headers else None)
    try:
        uvicorn.Server(config).run()
    finally:
        srv.store.dispose()
