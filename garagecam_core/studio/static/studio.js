// GarageCam studio page: plain JavaScript, no build step, everything served locally.
"use strict";

// Relative to the page (/studio/): the same URL works under a proxy's prefix, such as Home
// Assistant's ingress path, without the page knowing the prefix.
const API = "../v1/studio/api";
const $ = (id) => document.getElementById(id);

let token = sessionStorage.getItem("garagecam-token") || "";
let info = null;          // GET /state
let frames = [];          // GET /frames (current filter), most uncertain first
let focus = 0;            // index of the focused frame in `frames`
let combos = [];          // key 1..N -> {label: 0/1}
let agreementData = {};   // GET /agreement: how often suggestions matched the user's labels
let lastTrain = null;     // latest training run
let pollTimer = null;
const thumbUrls = new Map();

// -- HTTP -----------------------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, body) {
  const headers = {};
  if (token) headers.Authorization = "Bearer " + token;
  const init = { headers };
  if (body !== undefined) {
    init.method = "POST";
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  if (response.status === 401 || response.status === 403) {
    askToken(response.status === 403 ? "that token is not valid" : "");
    throw new HttpError(response.status, "token needed");
  }
  const isJson = (response.headers.get("Content-Type") || "").includes("json");
  if (!response.ok) {
    const data = isJson ? await response.json() : { error: await response.text() };
    throw new HttpError(response.status, data.error || data.message || response.statusText);
  }
  return isJson ? response.json() : response.blob();
}

function askToken(message) {
  $("app").hidden = true;
  $("token-form").hidden = false;
  $("token-error").textContent = message;
  $("token").focus();
}

function say(text, bad) {
  const status = $("status");
  status.textContent = text;
  status.className = bad ? "bad" : "muted";
}

// -- labels and keys ------------------------------------------------------------------------

function labelNames() { return info.labels.map((l) => l.name); }

function buildCombos() {
  const names = labelNames();
  combos = [];
  if (names.length > 3) return;  // 16+ combinations: label by clicking the chips instead
  // bit i is the i-th label as the cards list it: key 2 is the first label, 3 the second
  for (let bits = 0; bits < 1 << names.length; bits++) {
    const combo = {};
    names.forEach((name, i) => { combo[name] = (bits >> i) & 1; });
    combos.push(combo);
  }
  const keys = combos.map((combo, i) => {
    const on = names.filter((n) => combo[n]);
    return `<kbd>${i + 1}</kbd> ${on.length ? on.join(" + ") : "none"}`;
  });
  keys.push("<kbd>Enter</kbd> accept the card's suggestions (dashed)", "<kbd>←</kbd><kbd>→</kbd> move");
  $("keys").innerHTML = keys.join(" · ") + '<div id="quality" class="small"></div>';
  showQuality();
}

// Suggestions are guesses: say how often each source matched the user's labels so far.
function showQuality() {
  const box = $("quality");
  if (!box) return;
  const sum = (key) => Object.values(agreementData).reduce(
    (acc, a) => [acc[0] + a[key].agree, acc[1] + a[key].total], [0, 0]);
  const [modelAgree, modelTotal] = sum("student_user");
  const [teacherAgree, teacherTotal] = sum("teacher_user");
  const parts = ["Suggestions are guesses: check each before Enter."];
  parts.push(modelTotal
    ? `The model's (when sure) matched your labels ${modelAgree} of ${modelTotal} times so far.`
    : "The model's are not checked against your labels yet.");
  if (teacherTotal) parts.push(`The teacher's matched ${teacherAgree} of ${teacherTotal}.`);
  box.textContent = parts.join(" ");
}

function renderSummary() {
  const p = info.predictions;
  const parts = [
    `<b>${escapeHtml(info.dataset)}</b>`,
    `${info.frames} frames, <span id="labelled">${info.confirmed} labelled by you</span>`,
    `model <b>${escapeHtml(info.model.name)}</b> v${escapeHtml(info.model.version)}`,
  ];
  if (info.layout !== "jsonl") parts.push(`labels from ${info.layout === "csv" ? "labels.csv" : "the class folders"} shown as suggestions; yours go to ${escapeHtml(info.labels_file)}`);
  if (p.running) parts.push(`computing probabilities ${p.done}/${p.total}`);
  if (info.skipped_lines) parts.push(`<span class="bad">${info.skipped_lines} unreadable line(s) in labels.jsonl (kept as they are)</span>`);
  if (info.teacher.configured) {
    const t = info.teacher.progress;
    parts.push(`teacher <b>${escapeHtml(info.teacher.model)}</b>${t.running ? ` ${t.done}/${t.total}` : ""}${t.error ? ` <span class="bad">${escapeHtml(t.error)}</span>` : ""}`);
  }
  $("summary").innerHTML = parts.join(" · ");
}

function fmt(p) { return p === null || p === undefined ? "–" : p.toFixed(2); }

function cardHtml(frame) {
  const rows = info.labels.map((spec) => {
    const name = spec.name;
    const p = frame.probabilities ? frame.probabilities[name] : null;
    const vote = frame.votes[name];
    const label = frame.labels[name];
    const teacher = frame.teacher[name];
    const suggested = frame.suggestion[name];
    const source = (frame.suggestion_from || {})[name];
    let state = "unset";
    let text = "?";
    if (label !== undefined) {
      state = frame.by === "user" ? "user" : "file";
      text = label ? "yes" : "no";
    } else if (suggested !== undefined) {
      state = "suggested";
      text = `${suggested ? "yes" : "no"}? <small>${source}</small>`;
    } else if ((frame.missing || []).includes(name)) {
      state = "missing";
      text = "? <small>no suggestion</small>";
    }
    const value = label !== undefined ? label : suggested;
    const teacherText = teacher
      ? (teacher.value === null ? "T: ?" : `T: ${teacher.value ? "yes" : "no"}${teacher.confidence !== null ? " " + teacher.confidence.toFixed(2) : ""}`)
      : "";
    const voteClass = vote === null ? "unsure" : vote ? "on" : "off";
    return `<button type="button" class="chip ${state} v${value === undefined ? "x" : value}" data-label="${name}"
        title="${name}: click to toggle${state === "suggested" ? ` (suggested by the ${source})` : ""}${state === "missing" ? " (no suggestion: set it yourself)" : ""}">
        <span class="name">${name}</span><span class="value">${text}</span>
        <span class="prob ${voteClass}" title="model probability">${fmt(p)}</span>
        ${teacherText ? `<span class="teacher" title="teacher: ${escapeHtml(teacher.raw || "")}">${teacherText}</span>` : ""}
      </button>`;
  });
  const flags = [];
  if (frame.confirmed) flags.push('<span class="flag ok">labelled</span>');
  else if (frame.by === "user") flags.push(`<span class="flag part">partly labelled</span>`);
  if (frame.disagree) flags.push('<span class="flag bad">disagrees</span>');
  if (frame.reason) flags.push(`<span class="flag">${frame.reason}</span>`);
  if (frame.error) flags.push(`<span class="flag bad" title="${escapeHtml(frame.error)}">unreadable</span>`);
  return `<div class="thumb"><img alt="${escapeHtml(frame.path)}"></div>
    <div class="meta"><div class="path" title="${escapeHtml(frame.path)}">${escapeHtml(frame.path)}</div>
    <div class="flags">${flags.join("")}</div><div class="chips">${rows.join("")}</div></div>`;
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

const observer = new IntersectionObserver((entries) => {
  for (const entry of entries) {
    if (!entry.isIntersecting) continue;
    observer.unobserve(entry.target);
    loadThumb(entry.target);
  }
}, { rootMargin: "400px" });

async function loadThumb(card) {
  const path = card.dataset.path;
  const img = card.querySelector("img");
  let url = thumbUrls.get(path);
  if (!url) {
    try {
      const blob = await api(`/image?size=thumb&path=${encodeURIComponent(path)}`);
      url = URL.createObjectURL(blob);
      thumbUrls.set(path, url);
    } catch (err) {
      img.alt = "cannot show: " + err.message;
      return;
    }
  }
  img.src = url;
}

function renderGrid() {
  const grid = $("grid");
  grid.innerHTML = "";
  frames.forEach((frame, index) => {
    const card = document.createElement("article");
    card.className = "card";
    card.dataset.index = index;
    card.dataset.path = frame.path;
    card.innerHTML = cardHtml(frame);
    grid.appendChild(card);
    observer.observe(card);
  });
  if (!frames.length) grid.innerHTML = '<p class="muted empty">No frames here.</p>';
  setFocus(Math.min(focus, Math.max(0, frames.length - 1)), false);
}

function updateCard(index) {
  const card = $("grid").querySelector(`[data-index="${index}"]`);
  if (!card) return;
  const img = card.querySelector("img");
  const src = img && img.src;
  card.innerHTML = cardHtml(frames[index]);
  if (src) card.querySelector("img").src = src;
  else observer.observe(card);
}

function setFocus(index, scroll = true) {
  const grid = $("grid");
  grid.querySelectorAll(".card.focus").forEach((c) => c.classList.remove("focus"));
  focus = index;
  const card = grid.querySelector(`[data-index="${index}"]`);
  if (card) {
    card.classList.add("focus");
    if (scroll) card.scrollIntoView({ block: "nearest" });
  }
}

async function saveLabels(index, labels) {
  const frame = frames[index];
  let saved;
  try {
    saved = await api("/labels", { labels: { [frame.path]: labels } });
  } catch (err) {
    say(`not saved: ${err.message}`, true);
    return false;
  }
  frame.labels = { ...labels };
  frame.by = "user";
  frame.confirmed = true;
  frame.disagree = info.labels.some((s) => {
    const vote = frame.votes[s.name];
    const teacher = frame.teacher[s.name];
    return (vote !== null && vote !== labels[s.name])
      || (teacher && teacher.value !== null && teacher.value !== labels[s.name]);
  });
  frame.suggestion = { ...labels };
  frame.suggestion_from = Object.fromEntries(Object.keys(labels).map((n) => [n, "you"]));
  frame.missing = [];
  updateCard(index);
  info.confirmed = saved.confirmed;
  renderSummary();
  say(`saved ${frame.path}`);
  refreshAgreement();
  return true;
}

async function labelFocused(labels) {
  if (!frames.length) return;
  const index = focus;
  if (await saveLabels(index, labels) && index + 1 < frames.length) setFocus(index + 1);
}

// Enter: save whatever suggestions the card has, per label; name the labels still missing.
async function acceptFocused() {
  const index = focus;
  const frame = frames[index];
  if (!frame) return;
  if (!Object.keys(frame.suggestion).length) {
    say("no suggestion for any label here: press a number key or click a label", true);
    return;
  }
  let result;
  try {
    result = await api("/accept", { paths: [frame.path], partial: true });
  } catch (err) {
    say(`not saved: ${err.message}`, true);
    return;
  }
  if (result.frames.length) frames[index] = result.frames[0];
  updateCard(index);
  info.confirmed = result.confirmed;
  renderSummary();
  refreshAgreement();
  const missing = result.missing[frame.path] || [];
  if (missing.length) {
    say(`saved the suggested labels of ${frame.path}; no suggestion for ${missing.join(", ")}: press a number key or click it`, true);
    setFocus(index);
  } else {
    say(`accepted ${frame.path}`);
    if (index + 1 < frames.length) setFocus(index + 1);
  }
}

function toggle(index, name) {
  const frame = frames[index];
  const base = { ...frame.suggestion, ...(frame.by === "user" ? frame.labels : {}) };
  const labels = {};
  for (const n of labelNames()) labels[n] = base[n] === undefined ? 0 : base[n];
  labels[name] = base[name] === 1 ? 0 : 1;
  setFocus(index, false);
  saveLabels(index, labels);
}

function onKey(event) {
  if (event.target.closest("input, select, textarea") || event.altKey || event.ctrlKey || event.metaKey) return;
  const digit = Number.parseInt(event.key, 10);
  if (digit >= 1 && digit <= combos.length) {
    event.preventDefault();
    labelFocused(combos[digit - 1]);
  } else if (event.key === "Enter") {
    event.preventDefault();
    acceptFocused();
  } else if (event.key === "ArrowRight" || event.key === "j") {
    event.preventDefault();
    setFocus(Math.min(frames.length - 1, focus + 1));
  } else if (event.key === "ArrowLeft" || event.key === "k") {
    event.preventDefault();
    setFocus(Math.max(0, focus - 1));
  }
}

// -- loading --------------------------------------------------------------------------------

async function loadState() {
  info = await api("/state");
  renderSummary();
  $("ask-teacher").hidden = !info.teacher.configured;
  $("rollback").hidden = !info.deploy.has_previous;
  if (!info.train.available) {
    const box = $("train-unavailable");
    box.hidden = false;
    box.innerHTML = `Training needs the <code>train</code> extra (torch), not installed here:
      <code>${escapeHtml(info.train.install)}</code>. “Train” still writes your confirmed labels
      as a dataset and shows the command to run on a machine that has it.`;
  }
  return info;
}

async function loadFrames() {
  frames = await api(`/frames?filter=${encodeURIComponent($("filter").value)}`);
  renderGrid();
}

async function refreshAgreement() {
  const data = await api("/agreement");
  const rows = ["<tr><th>label</th><th>model = me</th><th>teacher = me</th><th>teacher = model</th></tr>"];
  const cell = (x) => (x.total ? `${x.agree}/${x.total}` : "–");
  agreementData = data;
  showQuality();
  for (const [name, a] of Object.entries(data)) {
    rows.push(`<tr><td>${name}</td><td>${cell(a.student_user)}</td><td>${cell(a.teacher_user)}</td><td>${cell(a.teacher_student)}</td></tr>`);
  }
  $("agreement").innerHTML = rows.join("");
}

// -- training -------------------------------------------------------------------------------

function drawCurve(epochs) {
  const svg = $("curve");
  if (!epochs.length) { svg.hidden = true; return; }
  svg.hidden = false;
  const total = epochs[0].epochs;
  const maxLoss = Math.max(...epochs.map((e) => Math.max(e.train_loss, e.val_loss)), 0.01);
  const x = (e) => (total > 1 ? ((e - 1) / (total - 1)) * 290 + 5 : 150);
  const y = (v) => 115 - (Math.min(v, maxLoss) / maxLoss) * 105;
  const line = (key, scale) => epochs.map((e) => `${x(e.epoch)},${scale ? 115 - e[key] * 105 : y(e[key])}`).join(" ");
  svg.innerHTML = `<polyline class="train" points="${line("train_loss")}"/>
    <polyline class="val" points="${line("val_loss")}"/>
    <polyline class="f1" points="${line("f1", true)}"/>`;
}

// a run is busy until its comparison with the current model is in
function running(run) {
  return run.status === "running" || run.status === "starting" || (run.status === "done" && !run.comparison);
}

function showRun(run) {
  lastTrain = run;
  const done = run.epochs.length ? run.epochs[run.epochs.length - 1] : null;
  const parts = [`run ${run.id}: ${run.status}`, `${run.frames} frames`];
  if (done) parts.push(`epoch ${done.epoch}/${done.epochs}, validation loss ${done.val_loss.toFixed(3)}, F1 ${done.f1.toFixed(3)}`);
  if (run.kind === "head" && run.summary) parts.push(`trained in ${run.summary.seconds.toFixed(1)} s (${run.summary.cached_frames} of ${run.summary.frames} frames already embedded)`);
  const stage = running(run) ? `<div id="train-stage"><span class="spinner"></span>${escapeHtml(run.stage)}</div>` : "";
  $("train-status").innerHTML = `<div class="mode">${escapeHtml(run.mode)}</div>` + escapeHtml(parts.join(" · ")) + stage
    + (run.error ? `<div class="bad">${escapeHtml(run.error)}</div>` : "");
  if (run.status === "unavailable") {
    $("train-status").innerHTML += `<div>Run it where torch is installed:<pre>${escapeHtml(run.command)}</pre></div>`;
  }
  drawCurve(run.epochs);
  $("train-log").textContent = run.status === "failed" ? run.log.join("\n") : "";
  const going = run.status === "running" || run.status === "starting";
  $("train").disabled = running(run);
  $("cancel").hidden = !going;
  $("result").hidden = run.status !== "done";
  if (run.status === "done") showResult(run);
}

const pct = (v) => (v === null || v === undefined ? "–" : (v * 100).toFixed(1) + " %");

// "8 of 13 frames (61.5 %, 95 % interval 35.5-82.3 %), 2 unsure": the sample size always shown
function scoreHtml(m) {
  if (!m) return "–";
  const range = m.interval ? `, 95 % interval ${pct(m.interval[0])}–${pct(m.interval[1])}` : "";
  const unsure = m.unsure ? `<br><span class="muted small">${m.unsure} left between OFF and ON</span>` : "";
  return `${m.correct} of ${m.total} frames<br><span class="small">${pct(m.accuracy)}${range}</span>${unsure}`;
}

function showResult(run) {
  const rows = ["<tr><th>label</th><th>current model</th><th>new model</th><th>new ON / OFF</th></tr>"];
  const cmp = run.comparison;
  const thresholds = (run.summary && run.summary.thresholds) || {};
  if (!cmp) rows.push('<tr><td colspan="4" class="muted">comparing with the current model…</td></tr>');
  for (const [name, m] of Object.entries((cmp && cmp.labels) || {})) {
    const better = !m.current || m.new.correct >= m.current.correct;
    rows.push(`<tr><td>${escapeHtml(name)}</td><td>${scoreHtml(m.current)}</td><td class="${better ? "ok" : "bad"}">${scoreHtml(m.new)}</td><td>${(thresholds[name] || []).join(" / ")}</td></tr>`);
  }
  if (cmp && cmp.frames !== undefined) {
    const how = cmp.method === "cross-validated"
      ? `the same ${cmp.frames} frames you labelled: the new model cross-validated (each frame judged by a head trained without it), the current model as it is`
      : `the same ${cmp.frames} held-out frames (never trained on)`;
    rows.push(`<tr><td colspan="4" class="muted">${how}; right = past the label's ON (yes) or OFF (no) threshold, frames in between count as unsure</td></tr>`);
    if (cmp.current_is_shipped === false) rows.push('<tr><td colspan="4" class="muted">If the current model was trained on some of these frames, its figures flatter it.</td></tr>');
    if (cmp.too_few) rows.push(`<tr><td colspan="4" class="warn" id="too-few">Only ${cmp.frames} held-out frames: too few to trust (one frame is ${(100 / Math.max(cmp.frames, 1)).toFixed(1)} points). Label more frames for a figure you can rely on (${cmp.trust_frames}+ held out).</td></tr>`);
  }
  if (cmp && cmp.error) rows.push(`<tr><td colspan="4" class="bad">${escapeHtml(cmp.error)}</td></tr>`);
  $("compare").innerHTML = rows.join("");
  $("result-title").textContent = run.kind === "head" ? "New head vs current model" : "New model vs current (held-out frames)";
  $("deploy").disabled = !info.deploy.target || run.deployed;
  $("deploy").textContent = run.deployed ? "In use" : "Use this model";
  $("deploy").title = info.deploy.target ? `replaces ${info.deploy.target}` : "start the studio with --deploy-to to replace a model file";
  const png = $("curve-png");
  if (png.dataset.run !== run.id) {
    png.dataset.run = run.id;
    api(`/train/${run.id}/model.png`).then((blob) => { png.src = URL.createObjectURL(blob); png.hidden = false; }).catch(() => { png.hidden = true; });
  }
}

function showPlan() {
  const full = $("full").checked;
  $("full-settings").hidden = !full;
  $("train-plan").textContent = full ? info.train.full_plan : info.train.plan;
}

async function startTraining() {
  const full = $("full").checked;
  const body = full
    ? { full: true, epochs: Number($("epochs").value), input_size: Number($("input-size").value) }
    : { full: false };
  try {
    showRun(await api("/train", body));
    schedulePoll();
  } catch (err) {
    $("train-status").innerHTML = `<span class="bad">${escapeHtml(err.message)}</span>`;
  }
}

async function download(event) {
  event.preventDefault();
  if (!lastTrain) return;
  const file = lastTrain.model_file;
  const blob = await api(`/train/${lastTrain.id}/${file}`);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `garagecam-${lastTrain.id}${file.slice(file.lastIndexOf("."))}`;
  document.body.appendChild(link);
  link.click();
  link.remove();
}

async function deployOrRollback(path, body) {
  $("deploy-status").textContent = "working…";
  try {
    const result = await api(path, body);
    $("deploy-status").textContent = path === "/deploy"
      ? `now using the new model at ${result.target}${result.previous ? ` (previous kept as ${result.previous})` : ""}`
      : `rolled back: ${result.target} is ${result.model} again`;
    const runs = await api("/train");
    if (runs.length) showRun(runs[runs.length - 1]);
    await loadState();
    await loadFrames();
    schedulePoll();
  } catch (err) {
    $("deploy-status").innerHTML = `<span class="bad">${escapeHtml(err.message)}</span>`;
  }
}

// -- polling --------------------------------------------------------------------------------

function busy() {
  const trainRunning = lastTrain && running(lastTrain);
  return info.predictions.running || info.teacher.progress.running || trainRunning;
}

function schedulePoll() {
  if (pollTimer) return;
  pollTimer = setTimeout(poll, 1000);
}

async function poll() {
  pollTimer = null;
  const wasComputing = info.predictions.running || info.teacher.progress.running;
  try {
    await loadState();
    const runs = await api("/train");
    if (runs.length) showRun(runs[runs.length - 1]);
    if (wasComputing && !(info.predictions.running || info.teacher.progress.running)) {
      await loadFrames();
      await refreshAgreement();
    }
  } catch (err) {
    say(err.message, true);
  }
  if (busy()) schedulePoll();
}

// -- start ----------------------------------------------------------------------------------

async function start() {
  try {
    await loadState();
  } catch (err) {
    if (!(err instanceof HttpError && (err.status === 401 || err.status === 403))) say(err.message, true);
    return;
  }
  $("token-form").hidden = true;
  $("app").hidden = false;
  buildCombos();
  $("epochs").value = info.train.defaults.epochs;
  $("input-size").value = info.train.defaults.input_size;
  await loadFrames();
  await refreshAgreement();
  const runs = await api("/train");
  if (runs.length) showRun(runs[runs.length - 1]);
  if (busy()) schedulePoll();
  $("full-option").hidden = !info.train.full_available;  // only where torch is installed
  showPlan();
  // focus the grid for the keys without scrolling the header, toolbar and key legend away
  $("grid").focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

function wire() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    token = hash.get("token");
    sessionStorage.setItem("garagecam-token", token);
    history.replaceState(null, "", location.pathname);
  }
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    token = $("token").value.trim();
    sessionStorage.setItem("garagecam-token", token);
    start();
  });
  document.addEventListener("keydown", onKey);
  $("filter").addEventListener("change", () => { focus = 0; loadFrames(); });
  $("grid").addEventListener("click", (event) => {
    const card = event.target.closest(".card");
    if (!card) return;
    const chip = event.target.closest(".chip");
    if (chip) toggle(Number(card.dataset.index), chip.dataset.label);
    else setFocus(Number(card.dataset.index), false);
  });
  $("accept-all").addEventListener("click", async () => {
    try {
      const result = await api("/accept", { paths: frames.map((f) => f.path) });
      say(`accepted ${result.accepted} frame(s)` + (result.skipped.length ? `, ${result.skipped.length} without a sure suggestion left as they are` : ""));
      await loadState();
      await loadFrames();
      await refreshAgreement();
    } catch (err) { say(err.message, true); }
  });
  $("ask-teacher").addEventListener("click", async () => {
    try {
      await api("/teacher", { paths: frames.map((f) => f.path) });
      await loadState();
      schedulePoll();
    } catch (err) { say(err.message, true); }
  });
  $("rescan").addEventListener("click", async () => {
    await api("/refresh", {});
    await loadState();
    await loadFrames();
    schedulePoll();
  });
  $("train").addEventListener("click", startTraining);
  $("full").addEventListener("change", showPlan);
  $("cancel").addEventListener("click", () => lastTrain && api(`/train/${lastTrain.id}/cancel`, {}).then(showRun));
  $("download").addEventListener("click", download);
  $("deploy").addEventListener("click", () => lastTrain && deployOrRollback("/deploy", { run: lastTrain.id }));
  $("rollback").addEventListener("click", () => deployOrRollback("/rollback", {}));
  start();
}

wire();
