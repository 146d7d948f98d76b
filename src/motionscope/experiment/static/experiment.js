// motionscope experiment page: one participant, one page, the server holds the state.
// Vanilla JS on purpose (no build step, no npm at install time): docs/psychophysics.md.
(function () {
  "use strict";
  const body = document.body;
  const token = body.dataset.token;
  const api = "/api/p/" + encodeURIComponent(token);
  const $ = (id) => document.getElementById(id);
  const KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"];
  const SECTION = { practice: "trial", trial: "trial" };

  let state = null;     // the server's last state
  let trial = null;     // the trial on screen: timings and the pending submission
  let videoUrl = null;  // blob URL of the loaded clip
  let questionnaireId = null;

  // events the browser test (and a curious experimenter) can read
  window.motionscope = { events: [] };
  function log(type, detail) {
    window.motionscope.events.push(Object.assign({ type: type, t: performance.now() }, detail || {}));
  }

  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID().replace(/-/g, "");
    let s = "";
    const a = new Uint8Array(16);
    crypto.getRandomValues(a);
    a.forEach((b) => { s += b.toString(16).padStart(2, "0"); });
    return s;
  }

  function show(screen) {
    body.dataset.screen = screen;
    const section = "screen-" + (SECTION[screen] || screen);
    document.querySelectorAll("section.screen").forEach((s) => { s.hidden = s.id !== section; });
  }

  function fail(message) {
    $("error-text").textContent = message;
    show("error");
  }

  // POST JSON; network errors and 503 are retried with the same body (same submission id)
  async function post(path, payload) {
    let wait = 500;
    for (let attempt = 0; ; attempt++) {
      let r;
      try {
        r = await fetch(api + path, {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify(payload || {}), credentials: "same-origin",
        });
      } catch (e) {
        r = null;
      }
      if (r && r.status !== 503 && r.status !== 502 && r.status !== 504) {
        let data = {};
        try { data = await r.json(); } catch (e) { data = {}; }
        if (!r.ok) {
          const err = new Error(data.detail || ("HTTP " + r.status));
          err.status = r.status;
          throw err;
        }
        return data;
      }
      if (attempt >= 8) throw new Error("the server cannot be reached; please try again later");
      setStatus("connection problem, retrying\u2026");
      await new Promise((res) => setTimeout(res, wait));
      wait = Math.min(wait * 2, 8000);
    }
  }

  async function load() {
    try {
      const r = await fetch(api + "/state", { credentials: "same-origin" });
      const data = await r.json();
      if (!r.ok) { fail(data.detail || ("HTTP " + r.status)); return; }
      render(data);
    } catch (e) {
      fail("The server cannot be reached. Please reload the page in a moment.");
    }
  }

  function setStatus(text) { $("trial-status").textContent = text || ""; }

  function render(st) {
    state = st;
    body.dataset.trialIndex = st.trial ? String(st.trial.index) : "";
    body.dataset.trialKind = st.trial ? st.trial.kind : "";
    if (st.screen === "practice" || st.screen === "trial") {
      show(st.screen);
      startTrial(st);
      return;
    }
    if (st.screen === "complete") {
      $("completion-code").textContent = st.completion.code;
      const url = st.completion.redirect_url;
      if (url) {
        $("completion-redirect").href = url;
        $("completion-redirect-text").hidden = false;
        setTimeout(() => { window.location.href = url; }, 1000 * st.completion.redirect_delay_s);
      }
    }
    show(st.screen);
  }

  // ------------------------------------------------------------------ trials
  function progress(p) {
    const frac = p.total ? p.done / p.total : 0;
    $("progress-bar").style.width = (100 * frac).toFixed(1) + "%";
    $("progress-text").textContent = p.done + " / " + p.total;
  }

  async function startTrial(st) {
    const t = st.trial;
    trial = { index: t.index, kind: t.kind, submission: newId(), sent: false,
              tStart: null, tEnd: null, clientStart: null, ended: false };
    $("trial-heading").textContent = t.heading;
    progress(st.progress);
    setStatus("");
    $("trial-error").hidden = true;
    $("trial-feedback").hidden = true;
    $("feedback-continue").hidden = true;
    const buttons = $("trial-buttons");
    buttons.hidden = true;
    buttons.textContent = "";
    t.buttons.forEach((b) => {
      const el = document.createElement("button");
      el.type = "button";
      el.className = "answer-button";
      el.id = "answer-" + b.label;
      el.dataset.label = String(b.label);
      el.dataset.position = String(b.position);
      el.dataset.key = KEYS[b.position] || "";
      el.disabled = true;
      const k = document.createElement("span");
      k.className = "key";
      k.textContent = KEYS[b.position] || "";
      el.appendChild(k);
      el.appendChild(document.createTextNode(b.name));
      el.addEventListener("click", () => answer(b.label, b.position));
      buttons.appendChild(el);
    });
    const video = $("trial-video");
    const start = $("trial-start");
    video.removeAttribute("data-ended");
    video.removeAttribute("data-played");
    start.disabled = true;
    start.hidden = false;
    if (videoUrl) { URL.revokeObjectURL(videoUrl); videoUrl = null; }
    const mine = trial;
    try {
      const r = await fetch(t.video_url, { credentials: "same-origin" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const blob = await r.blob();
      if (mine !== trial) return;
      videoUrl = URL.createObjectURL(blob);
      video.src = videoUrl;
      video.load();
    } catch (e) {
      videoError("the video could not be loaded (" + e.message + ")");
      return;
    }
    video.oncanplaythrough = () => { if (mine === trial && !trial.tStart) start.disabled = false; };
    video.onloadeddata = () => { if (mine === trial && !trial.tStart) start.disabled = false; };
    video.onerror = () => { if (mine === trial) videoError("the video could not be played"); };
  }

  function videoError(message) {
    const e = $("trial-error");
    e.textContent = "Sorry, " + message + ". Please answer with your best guess.";
    e.hidden = false;
    $("trial-start").hidden = true;
    log("video-error", { index: trial && trial.index, message: message });
    enableButtons();
  }

  function enableButtons() {
    $("trial-buttons").hidden = false;
    document.querySelectorAll(".answer-button").forEach((b) => { b.disabled = false; });
  }

  function play() {
    const start = $("trial-start");
    if (!trial || start.disabled || start.hidden || trial.tStart !== null) return;
    const video = $("trial-video");
    const mine = trial;
    start.hidden = true;
    video.onplaying = () => {
      if (mine !== trial || trial.tStart !== null) return;
      trial.tStart = performance.now();
      trial.clientStart = Date.now();
      video.dataset.played = "1";
      log("playing", { index: trial.index });
      if (!state.config.answer_after_video) enableButtons();
    };
    video.onended = () => {
      if (mine !== trial) return;
      trial.tEnd = performance.now();
      trial.ended = true;
      video.dataset.ended = "1";
      log("ended", { index: trial.index, duration_ms: 1000 * video.duration });
      enableButtons();
    };
    video.onpause = () => { if (!video.ended && mine === trial) log("paused", { index: trial.index }); };
    const p = video.play();
    if (p && p.catch) p.catch((e) => videoError("the video could not be played (" + e.message + ")"));
  }

  async function answer(label, position) {
    if (!trial || trial.sent) return;  // double clicks send nothing twice
    const now = performance.now();
    trial.sent = true;
    document.querySelectorAll(".answer-button").forEach((b) => { b.disabled = true; });
    const el = $("answer-" + label);
    if (el) el.classList.add("chosen");
    const video = $("trial-video");
    const payload = {
      submission_id: trial.submission, response: label, position: position,
      rt_end_ms: trial.tEnd !== null ? now - trial.tEnd : null,
      rt_start_ms: trial.tStart !== null ? now - trial.tStart : null,
      video_ended: trial.ended,
      video_duration_ms: isFinite(video.duration) ? 1000 * video.duration : null,
      client_start_ms: trial.clientStart,
    };
    log("answer", { index: trial.index, response: label });
    setStatus("saving\u2026");
    let res;
    try {
      res = await post("/trial/" + trial.index, payload);
    } catch (e) {
      if (e.status === 409) { load(); return; }  // answered elsewhere (another tab): resync
      setStatus("");
      const err = $("trial-error");
      err.textContent = "Your answer could not be saved: " + e.message;
      err.hidden = false;
      trial.sent = false;
      enableButtons();
      return;
    }
    setStatus("");
    if (res.feedback) {
      const fb = $("trial-feedback");
      fb.textContent = res.feedback.text;
      fb.dataset.correct = res.feedback.correct ? "1" : "0";
      fb.hidden = false;
      const next = $("feedback-continue");
      next.hidden = false;
      next.onclick = () => { next.onclick = null; render(res.state); };
      return;
    }
    render(res.state);
  }

  // ------------------------------------------------------------------ other screens
  async function step(path, payload) {
    try {
      render((await post(path, payload)).state);
    } catch (e) {
      if (e.status === 409) { load(); return; }
      fail(e.message);
    }
  }

  $("consent-agree").addEventListener("click", () => step("/consent", { agree: true }));
  $("consent-decline").addEventListener("click", () => step("/consent", { agree: false }));
  $("instructions-continue").addEventListener("click", () => step("/instructions", {}));
  $("ready-start").addEventListener("click", () => step("/ready", {}));
  $("trial-start").addEventListener("click", play);
  $("trial-video").addEventListener("contextmenu", (e) => e.preventDefault());

  $("questionnaire-submit").addEventListener("click", async () => {
    const form = $("questionnaire-form");
    const err = $("questionnaire-error");
    if (!form.reportValidity()) return;
    const answers = {};
    new FormData(form).forEach((v, k) => {
      answers[k] = answers[k] === undefined ? String(v) : answers[k] + ";" + String(v);
    });
    if (!questionnaireId) questionnaireId = newId();
    $("questionnaire-submit").disabled = true;
    try {
      render((await post("/questionnaire", { submission_id: questionnaireId, answers: answers })).state);
    } catch (e) {
      $("questionnaire-submit").disabled = false;
      if (e.status === 409) { load(); return; }
      err.textContent = e.message;
      err.hidden = false;
    }
  });

  document.addEventListener("keydown", (e) => {
    const screen = body.dataset.screen;
    if (screen !== "practice" && screen !== "trial") return;
    if (e.key === " " || e.key === "Enter") {
      const next = $("feedback-continue");
      if (!next.hidden && next.onclick) { e.preventDefault(); next.onclick(); return; }
      if (!$("trial-start").hidden) { e.preventDefault(); play(); }
      return;
    }
    const pos = KEYS.indexOf(e.key);
    if (pos < 0) return;
    const b = document.querySelector('.answer-button[data-position="' + pos + '"]');
    if (b && !b.disabled) { e.preventDefault(); b.click(); }
  });

  load();
})();
