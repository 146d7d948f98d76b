"""The experiment server through its HTTP API (FastAPI TestClient), on SQLite and PostgreSQL:
the order of the pages, practice feedback, resuming, idempotent answers, recruitment ids."""

from __future__ import annotations

import json
import threading
import uuid

import pytest
import yaml
from fastapi.testclient import TestClient

from motionscope.experiment.app import build_app
from motionscope.experiment.create import create_experiment
from motionscope.experiment.db import SCHEMA_VERSION

from .conftest import app_client


@pytest.fixture(scope="module")
def exp(tiny_stimuli, tmp_path_factory):
    root = tmp_path_factory.mktemp("app") / "exp"
    create_experiment(tiny_stimuli, root, participants=3, seed=2, progress=False)
    return root


@pytest.fixture(scope="module")
def plan(exp):
    return json.loads((exp / "plan.json").read_text())


@pytest.fixture
def client(exp, db_url):
    with app_client(exp, db_url) as c:
        yield c


@pytest.fixture
def sqlite_client(exp, tmp_path):
    with app_client(exp, f"sqlite:///{tmp_path / 'x.db'}") as c:
        yield c


def enter(client, **params) -> str:
    r = client.get("/", params=params, follow_redirects=False)
    assert r.status_code == 303, r.text
    return r.headers["location"].rsplit("/", 1)[-1]


def state(client, tok):
    r = client.get(f"/api/p/{tok}/state")
    assert r.status_code == 200, r.text
    return r.json()


def body(trial, label, sub=None, **kw):
    pos = next(b["position"] for b in trial["buttons"] if b["label"] == label)
    return {"submission_id": sub or uuid.uuid4().hex, "response": label, "position": pos,
            "rt_end_ms": 321.5, "rt_start_ms": 1021.5, "video_ended": True,
            "video_duration_ms": 700.0, "client_start_ms": 1.7e12, **kw}


def to_trials(client, tok):
    assert client.post(f"/api/p/{tok}/consent", json={"agree": True}).status_code == 200
    assert client.post(f"/api/p/{tok}/instructions", json={}).status_code == 200


def answer(client, tok, st, label, **kw):
    t = st["trial"]
    r = client.post(f"/api/p/{tok}/trial/{t['index']}", json=body(t, label, **kw))
    assert r.status_code == 200, r.text
    return r.json()


def test_a_participant_goes_through_every_page(client, plan):
    tok = enter(client)
    page = client.get(f"/p/{tok}")
    assert page.status_code == 200 and 'id="consent-agree"' in page.text
    assert "no-referrer" in page.headers["referrer-policy"]
    st = state(client, tok)
    assert st["screen"] == "consent" and st["slot"] == 0
    assert client.post(f"/api/p/{tok}/ready", json={}).status_code == 409  # not in this order
    to_trials(client, tok)
    planned = plan["participants"][0]["trials"]
    st = state(client, tok)
    assert st["screen"] == "practice" and st["progress"] == {"block": "practice", "done": 0,
                                                              "total": 2}
    # the page does not know the answer: no label beyond the buttons' own
    assert "label" not in {k for k in st["trial"] if k != "buttons"}
    assert sorted(b["label"] for b in st["trial"]["buttons"]) == [0, 1, 2, 3]
    wrong = (planned[0]["label"] + 1) % 4
    res = answer(client, tok, st, wrong)
    assert res["feedback"] == {"correct": False, "text": "Wrong selection!"}
    res = answer(client, tok, res["state"], planned[1]["label"])
    assert res["feedback"]["correct"] is True
    assert res["state"]["screen"] == "ready"
    st = client.post(f"/api/p/{tok}/ready", json={}).json()["state"]
    total = plan["trials_per_participant"] + plan["catch"]
    done = 0
    while st["screen"] == "trial":
        t = st["trial"]
        assert t["kind"] == "test"  # catch trials look like the others
        assert st["progress"] == {"block": "main", "done": done, "total": total}
        v = client.get(t["video_url"])
        assert v.status_code == 200 and v.headers["content-type"] == "video/mp4" and v.content
        res = answer(client, tok, st, planned[t["index"]]["label"])
        assert "feedback" not in res
        st, done = res["state"], done + 1
    assert done == total
    assert st["screen"] == "questionnaire"
    r = client.post(f"/api/p/{tok}/questionnaire",
                    json={"submission_id": uuid.uuid4().hex, "answers": {"age": "33"}})
    st = r.json()["state"]
    assert st["screen"] == "complete" and st["completion"]["code"].startswith("MS-")
    # a completed participant stays complete (reload)
    assert state(client, tok)["screen"] == "complete"


def test_reload_resumes_at_the_next_unanswered_trial(client, exp, plan):
    tok = enter(client)
    to_trials(client, tok)
    st = state(client, tok)
    for _ in range(2):
        st = answer(client, tok, st, 0)["state"]
    st = client.post(f"/api/p/{tok}/ready", json={}).json()["state"]
    for _ in range(3):
        st = answer(client, tok, st, 1)["state"]
    idx = st["trial"]["index"]
    assert idx == 5
    # a new tab / new client on the same URL: the same trial, same button order
    with TestClient(client.app) as other:
        again = state(other, tok)
    assert again["screen"] == "trial" and again["trial"] == st["trial"]
    assert again["progress"]["done"] == 3


def test_progress_is_read_from_the_database_not_the_servers_memory(client, exp, db_url,
                                                                  monkeypatch):
    """A server keeps each participant's fixed trial columns in memory (bounded): a second
    server on the same database, and one whose memory holds a single participant, show the same
    trial and progress as the server that stored the answers."""
    from motionscope.experiment import db as dbmod

    toks = [enter(client) for _ in range(2)]
    states = {}
    for k, tok in enumerate(toks):
        to_trials(client, tok)
        st = state(client, tok)
        for _ in range(2 + k):  # both practice trials, then k main trials
            st = answer(client, tok, st, 0)["state"]
            if st["screen"] == "ready":
                st = client.post(f"/api/p/{tok}/ready", json={}).json()["state"]
        states[tok] = st
    monkeypatch.setattr(dbmod, "PLAN_CACHE", 1)
    with app_client(exp, db_url) as other:
        for _ in range(2):  # alternate: each read evicts the other participant
            for tok in toks:
                again = state(other, tok)
                assert again["trial"] == states[tok]["trial"]
                assert again["progress"] == states[tok]["progress"]
        assert len(other.app.server.store._plans) == 1
        st = answer(other, toks[1], states[toks[1]], 2)["state"]  # the next one, on the other
        assert st["progress"]["done"] == states[toks[1]]["progress"]["done"] + 1
        assert state(client, toks[1]) == st  # and the first server agrees


def test_double_clicks_and_retries_store_one_answer(client):
    tok = enter(client)
    to_trials(client, tok)
    st = state(client, tok)
    t = st["trial"]
    b = body(t, 2)
    first = client.post(f"/api/p/{tok}/trial/{t['index']}", json=b)
    again = client.post(f"/api/p/{tok}/trial/{t['index']}", json=b)  # network retry
    assert first.json()["status"] == "stored" and again.json()["status"] == "duplicate"
    assert again.json()["feedback"] == first.json()["feedback"]
    other = client.post(f"/api/p/{tok}/trial/{t['index']}", json=body(t, 3))  # another answer
    assert other.status_code == 409
    status = client.app.server.status()
    assert status["answered_trials"] == 1


def test_concurrent_identical_submissions_store_one_row(client):
    tok = enter(client)
    to_trials(client, tok)
    t = state(client, tok)["trial"]
    b = body(t, 1)
    results = []

    def post():
        results.append(client.post(f"/api/p/{tok}/trial/{t['index']}", json=b))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r.status_code == 200 for r in results), [r.text for r in results]
    assert sorted(r.json()["status"] for r in results) == ["duplicate"] * 7 + ["stored"]
    rows = [tr for tr in client.app.server.store.all_trials() if tr.response is not None]
    assert len(rows) == 1


def test_only_the_next_trial_and_main_trials_after_ready(client, plan):
    tok = enter(client)
    to_trials(client, tok)
    st = state(client, tok)
    t = st["trial"]
    skip = dict(t, index=t["index"] + 1)
    r = client.post(f"/api/p/{tok}/trial/{skip['index']}", json=body(skip, 0))
    assert r.status_code == 409 and "not the next" in r.json()["detail"]
    for _ in range(2):
        st = answer(client, tok, st, 0)["state"]
    assert st["screen"] == "ready"
    main = plan["participants"][st["slot"]]["trials"][2]
    fake = {"index": 2, "buttons": [{"label": b, "position": i}
                                    for i, b in enumerate(main["buttons"])]}
    r = client.post(f"/api/p/{tok}/trial/2", json=body(fake, 0))
    assert r.status_code == 409 and "ready" in r.json()["detail"]
    # the video of a trial that is not the current one is not served
    assert client.get(f"/p/{tok}/video/2").status_code == 404
    assert client.get(f"/p/{tok}/video/0").status_code == 404  # answered


def test_participants_take_plan_slots_in_turn(client):
    slots = []
    for _ in range(4):
        client.cookies.clear()  # another browser
        slots.append(state(client, enter(client))["slot"])
    assert slots == [0, 1, 2, 0]


def test_declining_consent_ends_the_study(client):
    tok = enter(client)
    r = client.post(f"/api/p/{tok}/consent", json={"agree": False})
    assert r.json()["state"]["screen"] == "declined"
    assert client.post(f"/api/p/{tok}/consent", json={"agree": True}).status_code == 409
    assert client.post(f"/api/p/{tok}/instructions", json={}).status_code == 409


def test_questionnaire_is_checked_and_idempotent(client):
    tok = enter(client)
    early = client.post(f"/api/p/{tok}/questionnaire",
                        json={"submission_id": "abcdefgh", "answers": {}})
    assert early.status_code == 409  # trials first
    srv = client.app.server
    p = srv.store.participant(tok)
    for t in srv.store.trials(p.id):  # answer everything through the store
        if t.kind != "practice":
            srv.store.mark(tok, "consent")
            srv.store.mark(tok, "instructions")
            srv.store.mark(tok, "ready")
        order = json.loads(t.buttons)
        srv.store.answer(tok, t.index,
                         response=order[0], position=0, submission_id=uuid.uuid4().hex,
                         rt_end_ms=1.0, rt_start_ms=2.0, video_ended=True, video_duration_ms=1.0,
                         client_start_ms=None)
    bad = client.post(f"/api/p/{tok}/questionnaire",
                      json={"submission_id": "abcdefgh", "answers": {"shoe_size": "44"}})
    assert bad.status_code == 422 and "shoe_size" in bad.json()["detail"]
    good = {"submission_id": "abcdefgh1", "answers": {"age": "40", "strategy": "looked at legs"}}
    assert client.post(f"/api/p/{tok}/questionnaire", json=good).json()["status"] == "stored"
    assert client.post(f"/api/p/{tok}/questionnaire", json=good).json()["status"] == "duplicate"
    other = dict(good, submission_id="abcdefgh2")
    assert client.post(f"/api/p/{tok}/questionnaire", json=other).status_code == 409
    q = srv.store.all_questionnaires()
    assert len(q) == 1 and json.loads(q[0].answers)["strategy"] == "looked at legs"


def test_schema_version_is_recorded(client):
    from sqlalchemy import text

    with client.app.server.store.engine.connect() as c:
        assert c.execute(text("SELECT max(version) FROM ms_schema_version")).scalar() == \
            SCHEMA_VERSION


# ----------------------------------------------------------------------------- recruitment
def _platform(exp, tmp_path, platform, **completion):
    import shutil

    dst = tmp_path / f"exp_{platform}"
    shutil.copytree(exp, dst)
    path = dst / "experiment.yaml"
    d = yaml.safe_load(path.read_text())
    d["recruitment"]["platform"] = platform
    d["completion"].update(completion)
    path.write_text(yaml.safe_dump(d, sort_keys=False))
    app = build_app(dst, f"sqlite:///{tmp_path / (platform + '.db')}")
    return TestClient(app, raise_server_exceptions=False)


def test_prolific_ids_identify_the_participant(exp, tmp_path):
    c = _platform(exp, tmp_path, "prolific", code="ABC123",
                  redirect_url="https://app.prolific.com/submissions/complete?cc={code}")
    ids = {"PROLIFIC_PID": "5f1a2b3c4d", "STUDY_ID": "s1", "SESSION_ID": "x9"}
    tok = enter(c, **ids)
    assert enter(c, **ids) == tok  # the link opened again: same participant
    assert enter(c, **dict(ids, PROLIFIC_PID="other")) != tok
    r = c.get("/", follow_redirects=False)
    assert r.status_code == 400 and "PROLIFIC_PID" in r.json()["detail"]
    assert c.get("/", params={"PROLIFIC_PID": "<script>"}, follow_redirects=False).status_code == 400
    p = c.app.server.store.participant(tok)
    assert (p.platform, p.external_id, p.study_id, p.session_id) == ("prolific", "5f1a2b3c4d",
                                                                      "s1", "x9")
    assert p.completion_code == "ABC123" and p.ip is None
    assert c.app.server._redirect(p) == "https://app.prolific.com/submissions/complete?cc=ABC123"


def test_mturk_ids_and_preview(exp, tmp_path):
    c = _platform(exp, tmp_path, "mturk")
    r = c.get("/", params={"assignmentId": "ASSIGNMENT_ID_NOT_AVAILABLE", "hitId": "H1"},
              follow_redirects=False)
    assert r.status_code == 200 and 'data-screen="preview"' in r.text
    assert c.app.server.store.all_participants() == []  # a preview creates nobody
    tok = enter(c, workerId="W1", assignmentId="A1", hitId="H1")
    p = c.app.server.store.participant(tok)
    assert (p.external_id, p.study_id, p.session_id) == ("W1", "H1", "A1")


def test_lab_ids_are_generated_and_the_browser_resumes(sqlite_client):
    c = sqlite_client
    tok = enter(c)
    assert enter(c) == tok  # the same browser (cookie) resumes while not finished
    c.cookies.clear()
    tok2 = enter(c)
    assert tok2 != tok
    named = enter(c, participant="P07")
    assert c.app.server.store.participant(named).external_id == "P07"
    assert c.app.server.store.participant(tok).external_id.startswith("lab-")


def test_admin_status_needs_the_token(sqlite_client, exp):
    c = sqlite_client
    token = yaml.safe_load((exp / "experiment.yaml").read_text())["admin_token"]
    enter(c)
    assert c.get("/api/admin/status").status_code == 401
    assert c.get("/api/admin/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/admin", params={"token": token[:-1]}).status_code == 401
    st = c.get("/api/admin/status", headers={"Authorization": f"Bearer {token}"}).json()
    assert st["participants"]["started"] == 1 and st["participants"]["completed"] == 0
    assert set(st["trials_per_condition"]) == {"RGB", "J-6P", "SP-8P-1LT"}
    page = c.get("/admin", params={"token": token})
    assert page.status_code == 200 and "admin-conditions" in page.text
    assert c.get("/healthz").json() == {"ok": True}
