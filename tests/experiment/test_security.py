"""Bad input and hostile requests: a 4xx or one clear error, nothing stored, never a traceback."""

from __future__ import annotations

import shutil
import uuid

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from motionscope.errors import DataError
from motionscope.experiment.app import build_app
from motionscope.experiment.create import create_experiment

from .conftest import app_client


@pytest.fixture(scope="module")
def exp(tiny_stimuli, tmp_path_factory):
    root = tmp_path_factory.mktemp("sec") / "exp"
    create_experiment(tiny_stimuli, root, participants=2, progress=False)
    return root


@pytest.fixture
def client(exp, tmp_path):
    with app_client(exp, f"sqlite:///{tmp_path / 'sec.db'}") as c:
        yield c


def _tok(c):
    return c.get("/", follow_redirects=False).headers["location"].rsplit("/", 1)[-1]


def _trial(c, tok):
    c.post(f"/api/p/{tok}/consent", json={"agree": True})
    c.post(f"/api/p/{tok}/instructions", json={})
    return c.get(f"/api/p/{tok}/state").json()["trial"]


def _body(t, **kw):
    b = t["buttons"][0]
    return {"submission_id": uuid.uuid4().hex, "response": b["label"], "position": b["position"],
            "video_ended": True, **kw}


def _stored(c):
    return sum(t.response is not None for t in c.app.server.store.all_trials())


def _clean(r):
    assert r.status_code < 500, r.text
    assert "Traceback" not in r.text and "File \"" not in r.text
    return r


def test_unknown_participants_and_trials(client):
    tok = _tok(client)
    t = _trial(client, tok)
    for url in ("/p/nobody-at-all", "/api/p/nobody-at-all/state", "/api/p/x/state",
                "/api/p/" + "a" * 300 + "/state", "/p/nobody-at-all/video/0"):
        assert _clean(client.get(url)).status_code == 404, url
    r = client.post("/api/p/nobody-at-all/trial/0", json=_body(t))
    assert _clean(r).status_code == 404
    for idx in ("999", "-1", "abc", "1e3"):
        assert _clean(client.post(f"/api/p/{tok}/trial/{idx}", json=_body(t))).status_code in (404, 409, 422)
    assert _stored(client) == 0


@pytest.mark.parametrize("change", [
    {"response": 4}, {"response": -1}, {"position": 7}, {"response": "2"}, {"response": 1.5},
    {"rt_end_ms": -5}, {"rt_start_ms": 1e12}, {"submission_id": "short"},
    {"submission_id": "../../etc/passwd"}, {"video_ended": "maybe"}, {"extra": 1},
])
def test_out_of_range_or_forged_answers_store_nothing(client, change):
    tok = _tok(client)
    t = _trial(client, tok)
    r = _clean(client.post(f"/api/p/{tok}/trial/{t['index']}", json=_body(t, **change)))
    assert r.status_code == 422, r.text
    assert _stored(client) == 0


def test_an_answer_must_match_its_button(client):
    tok = _tok(client)
    t = _trial(client, tok)
    b0, b1 = t["buttons"][0], t["buttons"][1]
    r = client.post(f"/api/p/{tok}/trial/{t['index']}",
                    json=_body(t, response=b0["label"], position=b1["position"]))
    assert _clean(r).status_code == 409 and _stored(client) == 0


def test_nan_and_missing_fields(client):
    tok = _tok(client)
    t = _trial(client, tok)
    raw = ('{"submission_id": "abcdefgh12", "response": 0, "position": 0, "video_ended": true, '
           '"rt_end_ms": NaN}')
    r = client.post(f"/api/p/{tok}/trial/{t['index']}", content=raw,
                    headers={"content-type": "application/json"})
    assert _clean(r).status_code == 422
    r = client.post(f"/api/p/{tok}/trial/{t['index']}", content="{not json",
                    headers={"content-type": "application/json"})
    assert _clean(r).status_code == 422
    r = client.post(f"/api/p/{tok}/trial/{t['index']}", json={"response": 0})
    assert _clean(r).status_code == 422
    assert _stored(client) == 0


def test_another_participants_trial_cannot_be_answered(client):
    a, b = _tok(client), None
    client.cookies.clear()
    b = _tok(client)
    ta = _trial(client, a)
    _trial(client, b)
    # b answers with a's token only if b knows it; with its own token the trial is its own
    r = client.post(f"/api/p/{b}/trial/{ta['index']}", json=_body(ta))
    assert _clean(r).status_code in (200, 409)  # its own trial of that index (same plan position)
    assert all(t.participant_id == client.app.server.store.participant(b).id
               for t in client.app.server.store.all_trials() if t.response is not None)


def test_oversized_bodies(client):
    tok = _tok(client)
    t = _trial(client, tok)
    big = _body(t, submission_id="a" * 20)
    big["pad"] = "x" * 20000
    r = client.post(f"/api/p/{tok}/trial/{t['index']}", json=big)
    assert _clean(r).status_code == 413

    def stream():  # no Content-Length: counted while read
        yield b'{"submission_id": "'
        for _ in range(40):
            yield b"a" * 1000
        yield b'"}'

    r = client.post(f"/api/p/{tok}/trial/{t['index']}", content=stream(),
                    headers={"content-type": "application/json"})
    assert _clean(r).status_code == 413
    assert _stored(client) == 0


def test_only_json_posts_and_known_methods(client):
    tok = _tok(client)
    r = client.post(f"/api/p/{tok}/consent", data={"agree": "true"})  # a cross-site form post
    assert _clean(r).status_code == 415
    assert client.get(f"/api/p/{tok}/state").json()["screen"] == "consent"
    assert _clean(client.delete(f"/api/p/{tok}/state")).status_code == 405
    assert _clean(client.put(f"/api/p/{tok}/consent", json={"agree": True})).status_code == 405


@pytest.mark.parametrize("url", [
    "/static/../experiment.yaml", "/static/..%2Fexperiment.yaml", "/static/%2e%2e/plan.json",
    "/videos/../experiment.yaml", "/experiment.yaml", "/plan.json", "/experiment.db",
    "/static/../../db.py",
])
def test_no_path_traversal(client, url):
    r = _clean(client.get(url))
    assert r.status_code in (404, 400), (url, r.status_code)
    assert "admin_token" not in r.text


def test_video_urls_are_trial_indices_only(client):
    tok = _tok(client)
    _trial(client, tok)
    for bad in ("..%2F..%2Fexperiment.yaml", "0%2F..%2F..%2Fplan.json", "-1", "0x0", "999"):
        assert _clean(client.get(f"/p/{tok}/video/{bad}")).status_code in (404, 422), bad
    assert client.get(f"/p/{tok}/video/0").status_code == 200


def test_security_headers(client):
    r = client.get(f"/p/{_tok(client)}")
    h = r.headers
    assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in h["content-security-policy"]
    assert h["referrer-policy"] == "no-referrer"


def test_no_ip_is_stored_unless_configured(exp, tmp_path, client):
    tok = _tok(client)
    assert client.app.server.store.participant(tok).ip is None
    dst = tmp_path / "exp_ip"
    shutil.copytree(exp, dst)
    d = yaml.safe_load((dst / "experiment.yaml").read_text())
    d["privacy"]["store_ip"] = True
    (dst / "experiment.yaml").write_text(yaml.safe_dump(d, sort_keys=False))
    app = build_app(dst, f"sqlite:///{tmp_path / 'ip.db'}")
    c = TestClient(app)
    t2 = _tok(c)
    assert app.server.store.participant(t2).ip == "testclient"


def test_missing_or_unreadable_videos_refuse_to_start(exp, tmp_path):
    dst = tmp_path / "broken"
    shutil.copytree(exp, dst)
    vids = sorted((dst / "videos").iterdir())
    vids[0].unlink()
    vids[1].write_bytes(b"")
    with pytest.raises(DataError, match=r"2 of \d+ videos are missing or unreadable") as e:
        build_app(dst, f"sqlite:///{tmp_path / 'b.db'}")
    assert vids[0].name.split(".")[0] in str(e.value) or vids[0].name in str(e.value)


def test_unreachable_database_is_one_clear_error_at_start(exp):
    with pytest.raises(DataError, match="cannot use the database") as e:
        build_app(exp, "postgresql://someone:secret@127.0.0.1:1/nowhere")
    assert "secret" not in str(e.value)  # the password is hidden
    with pytest.raises(DataError, match="not a SQLAlchemy URL"):
        build_app(exp, "not a url")


def test_database_lost_while_serving_is_503(client):
    tok = _tok(client)
    t = _trial(client, tok)
    store = client.app.server.store
    good = store.engine, store.read_engine
    store.engine = store.read_engine = create_engine("postgresql+psycopg://u@127.0.0.1:1/x",
                                                     connect_args={"connect_timeout": 1})
    try:
        for r in (client.get(f"/api/p/{tok}/state"),
                  client.post(f"/api/p/{tok}/trial/{t['index']}", json=_body(t)),
                  client.get("/healthz"), client.get("/")):
            assert r.status_code == 503, r.text
            assert r.json()["detail"].startswith("the database is unavailable")
            assert "Traceback" not in r.text and "127.0.0.1" not in r.text
    finally:
        store.engine.dispose()
        store.engine, store.read_engine = good
    assert _stored(client) == 0
    assert client.get(f"/api/p/{tok}/state").status_code == 200  # back again


def test_a_database_of_another_experiment_is_refused(exp, tmp_path, tiny_stimuli):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    build_app(exp, url).server.store.dispose()
    other = tmp_path / "other"
    create_experiment(tiny_stimuli, other, participants=1, catch=0, practice=0, progress=False)
    with pytest.raises(DataError, match="holds another experiment"):
        build_app(other, url)


def test_a_newer_schema_is_refused(exp, tmp_path):
    from sqlalchemy import text

    url = f"sqlite:///{tmp_path / 'new.db'}"
    app = build_app(exp, url)
    with app.server.store.engine.begin() as c:
        c.execute(text("INSERT INTO ms_schema_version VALUES (99, 'future', CURRENT_TIMESTAMP)"))
    app.server.store.dispose()
    with pytest.raises(DataError, match="schema version 99, newer"):
        build_app(exp, url)


def test_a_taken_port_is_one_clear_error(exp):
    import socket

    from motionscope.experiment.app import serve

    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
        with pytest.raises(DataError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve(exp, port=port, announce=lambda *_: None)
