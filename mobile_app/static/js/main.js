// The app's wiring: sign-in form, the event stream into the state, commands out, drawing.
// What is shown is what the connector said: a pressed button waits (aria-busy) for the
// event carrying its requestId, or for the refusal, and never guesses the outcome.

import { Api } from "./api.js";
import * as model from "./state.js";
import { EventStream } from "./stream.js";
import { drawHome, tick } from "./view.js";

const SESSION_KEY = "mobagent.session"; // sessionStorage: the token, never the password
const DEVICE_KEY = "mobagent.device"; // localStorage: agent id, extension, mode, dial number
const ANSWER_WAIT_MS = 15000;

const api = new Api();
let state = model.initial();
let stream = null;
const ui = {
  busy: new Set(), // data-keys of buttons waiting for their outcome
  pending: new Map(), // requestId -> data-key
  seen: [], // requestIds of recent frames: an event may beat the 202 that names it
  sheet: null, // "not-ready" | "sign-out"
  form: null, // {dialog, kind: "consult" | "blind" | "keypad"}
  formNumber: "",
  reasons: { NOT_READY: [], LOGOUT: [] },
  wrapUpReasons: [],
  notice: "",
  collapsed: new Set(), // dialogs whose call data the agent folded
  connection: "connecting",
  replaced: false,
};

const $ = (id) => document.getElementById(id);

// -- screens -----------------------------------------------------------------------------------

function show(screen) {
  $("signin").hidden = screen !== "signin";
  $("home").hidden = screen !== "home";
  drawBanner();
}

function render() {
  if (!state.session) return;
  drawHome($("home"), state, ui);
  drawBanner();
}

function drawBanner() {
  const banner = $("banner");
  let text = "";
  if (state.session && !state.ended) {
    if (ui.replaced) text = "This session was opened in another window; this one no longer updates.";
    else if (ui.connection === "reconnecting") text = "Connection lost. Reconnecting…";
    else if (state.system.notifications === "reconnecting") text = "Reconnecting to Finesse…";
    else if (state.system.status === "OUT_OF_SERVICE") {
      text = "Finesse is out of service: calls and state changes may not reach you.";
    }
  }
  banner.textContent = text;
  banner.hidden = !text;
}

// -- sign in -----------------------------------------------------------------------------------

function modeChosen() {
  return document.querySelector('input[name="mode"]:checked').value;
}

function showDialNumber() {
  $("dial-number-field").hidden = modeChosen() === "desk";
}

function restoreDevice() {
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(DEVICE_KEY) || "{}");
  } catch {
    saved = {};
  }
  if (saved.agentId) $("agent-id").value = saved.agentId;
  if (saved.extension) $("extension").value = saved.extension;
  if (saved.dialNumber) $("dial-number").value = saved.dialNumber;
  if (saved.mode) {
    const radio = document.querySelector(`input[name="mode"][value="${CSS.escape(saved.mode)}"]`);
    if (radio) radio.checked = true;
  }
  showDialNumber();
}

function formError(message, field) {
  $("signin-error").textContent = message;
  const input = { agentId: "agent-id", password: "password", extension: "extension" }[field];
  const target = input ? $(input) : field === "mobile.dialNumber" ? $("dial-number") : null;
  for (const el of document.querySelectorAll("#signin-form input")) el.removeAttribute("aria-invalid");
  if (target) {
    target.setAttribute("aria-invalid", "true");
    target.focus();
  }
}

async function signIn(event) {
  event.preventDefault();
  const agentId = $("agent-id").value.trim();
  const password = $("password").value;
  const extension = $("extension").value.trim();
  const mode = modeChosen();
  const dialNumber = $("dial-number").value.trim();
  const missing = [
    [agentId, "Agent ID", "agentId"],
    [password, "Password", "password"],
    [extension, "Extension", "extension"],
    [mode === "desk" || dialNumber, "Dial number", "mobile.dialNumber"],
  ].find(([value]) => !value);
  if (missing) {
    formError(`${missing[1]} is required.`, missing[2]);
    return;
  }
  const mobile = mode === "desk" ? null : { mode, dialNumber };
  const submit = $("signin-submit");
  submit.disabled = true;
  submit.setAttribute("aria-busy", "true");
  formError("", null);
  try {
    const reply = await api.signIn(agentId, password, extension, mobile);
    localStorage.setItem(DEVICE_KEY, JSON.stringify({ agentId, extension, mode, dialNumber }));
    $("password").value = "";
    const session = {
      token: reply.token,
      agentId,
      extension,
      mode,
      dialNumber: mobile ? dialNumber : "",
      callControl: Boolean(reply.capabilities && reply.capabilities.callControl),
    };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    start(session, reply.agent);
  } catch (error) {
    formError(error.message, error.field);
  } finally {
    submit.disabled = false;
    submit.removeAttribute("aria-busy");
  }
}

// -- a session ---------------------------------------------------------------------------------

function start(session, agent = null) {
  api.token = session.token;
  state = model.initial({ ...session, agent });
  Object.assign(ui, { sheet: null, form: null, notice: "", replaced: false, connection: "connecting" });
  ui.busy.clear();
  ui.pending.clear();
  show("home");
  render();
  stream = new EventStream({ token: session.token, onFrame, onStatus, onClosed });
  stream.start();
  loadLists(session);
}

async function loadLists(session) {
  const lists = [
    api.reasonCodes("NOT_READY").then((r) => (ui.reasons.NOT_READY = r.reasonCodes)),
    api.reasonCodes("LOGOUT").then((r) => (ui.reasons.LOGOUT = r.reasonCodes)),
  ];
  if (session.callControl) {
    lists.push(api.wrapUpReasons().then((r) => (ui.wrapUpReasons = r.wrapUpReasons)));
  }
  const results = await Promise.allSettled(lists);
  const failed = results.find((r) => r.status === "rejected");
  if (failed && failed.reason.status === 401) return end("Your session has expired. Sign in again.");
  if (failed) ui.notice = `Could not load the reason lists: ${failed.reason.message}`;
  render();
}

function end(message) {
  if (stream) stream.stop();
  stream = null;
  api.token = null;
  sessionStorage.removeItem(SESSION_KEY);
  state = model.initial();
  show("signin");
  restoreDevice();
  $("signin-error").textContent = message;
}

const ENDED_WORDS = {
  signed_out: "You signed out.",
  forced_logout: "Finesse signed you out (no connection for too long).",
  logged_out: "You were signed out by Finesse or a supervisor.",
  credentials_refused: "Finesse no longer accepts your password. Sign in again.",
  finesse_unreachable: "Finesse could not be reached for too long. Sign in again.",
};

function onFrame(frame) {
  state = model.apply(state, frame);
  const data = frame.data || {};
  if (data.requestId) settle(data.requestId);
  if (frame.type === "error") {
    const first = (data.errors || [])[0] || {};
    ui.notice = `Finesse refused: ${first.type || "error"}${first.message ? ` (${first.message})` : ""}`;
  }
  if (frame.type === "dialog.created") ring(data);
  if (frame.type === "session.ended") {
    end(data.message || ENDED_WORDS[data.reason] || "The session has ended.");
    return;
  }
  render();
}

function ring(dialog) {
  const me = model.myParticipant(dialog, state.session.extension);
  if (me && me.state === "ALERTING" && navigator.vibrate) navigator.vibrate([300, 150, 300]);
}

function onStatus(status) {
  ui.connection = status;
  drawBanner();
}

async function onClosed(code, reason) {
  if (code === 4001) return end(reason || "The session has ended.");
  if (code === 4002) {
    ui.replaced = true;
    return drawBanner();
  }
  // A socket that failed before opening may mean the token is gone (a reload after expiry):
  // ask once; the stream keeps retrying otherwise.
  try {
    await api.agent();
  } catch (error) {
    if (error.status === 401) end("Your session has expired. Sign in again.");
  }
}

// -- commands ----------------------------------------------------------------------------------

function settle(requestId) {
  const key = ui.pending.get(requestId);
  ui.seen.push(requestId);
  if (ui.seen.length > 64) ui.seen.shift();
  if (key) {
    ui.pending.delete(requestId);
    ui.busy.delete(key);
  }
}

async function run(key, command, after) {
  if (ui.busy.has(key)) return;
  ui.busy.add(key);
  ui.notice = "";
  render();
  try {
    const reply = await command();
    const requestId = reply && reply.requestId;
    if (requestId && !ui.seen.includes(requestId)) {
      ui.pending.set(requestId, key);
      setTimeout(() => {
        if (ui.pending.get(requestId) !== key) return;
        ui.pending.delete(requestId);
        ui.busy.delete(key);
        ui.notice = "No answer from Finesse yet: the screen shows what Finesse last said.";
        render();
      }, ANSWER_WAIT_MS);
    } else {
      ui.busy.delete(key);
    }
    if (after) after();
  } catch (error) {
    ui.busy.delete(key);
    if (error.status === 401) return end("Your session has expired. Sign in again.");
    ui.notice = error.message;
  }
  render();
}

function onClick(event) {
  const el = event.target.closest("button[data-cmd]");
  if (!el || !$("home").contains(el)) return;
  const d = el.dataset;
  switch (d.cmd) {
    case "ready":
      return run(d.key, () => api.setState("READY"));
    case "sheet":
      ui.sheet = ui.sheet === d.sheet ? null : d.sheet;
      return render();
    case "not-ready":
      return run(d.key, () => api.setState("NOT_READY", d.id), () => (ui.sheet = null));
    case "sign-out":
      return run(d.key, () => api.signOut(d.id), () => end("You signed out."));
    case "action":
      return run(d.key, () => api.action(d.dialog, d.action));
    case "form": {
      const same = ui.form && ui.form.dialog === d.dialog && ui.form.kind === d.kind;
      ui.form = same ? null : { dialog: d.dialog, kind: d.kind };
      ui.formNumber = "";
      render();
      const input = $("home").querySelector(".number-form input");
      if (input) input.focus();
      return;
    }
    case "dtmf":
      return run(d.key, () => api.action(d.dialog, "SEND_DTMF", { dtmf: d.digit }));
    case "wrapup":
      return run(d.key, () => api.action(d.dialog, "UPDATE_CALL_DATA", { wrapUpReason: d.label }));
    default:
      return undefined;
  }
}

function onSubmit(event) {
  const form = event.target.closest("form[data-cmd]");
  if (!form) return;
  event.preventDefault();
  const number = ui.formNumber.trim();
  if (!number) {
    ui.notice = "Enter a number first.";
    return render();
  }
  const action = form.dataset.cmd === "consult" ? "CONSULT_CALL" : "TRANSFER_SST";
  const key = `action:${form.dataset.dialog}:${action}`;
  run(key, () => api.action(form.dataset.dialog, action, { toAddress: number }), () => {
    ui.form = null;
  });
}

function onInput(event) {
  if (event.target.matches(".number-form input")) ui.formNumber = event.target.value;
}

function onToggle(event) {
  const key = event.target.dataset && event.target.dataset.key;
  if (!key || !key.startsWith("vars:")) return;
  const id = key.slice(5);
  if (event.target.open) ui.collapsed.delete(id);
  else ui.collapsed.add(id);
}

// -- start -------------------------------------------------------------------------------------

function boot() {
  $("signin-form").addEventListener("submit", signIn);
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", showDialNumber);
  }
  const home = $("home");
  home.addEventListener("click", onClick);
  home.addEventListener("submit", onSubmit);
  home.addEventListener("input", onInput);
  home.addEventListener("toggle", onToggle, true);
  setInterval(() => tick(home, state.clockOffset), 1000);
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { type: "module" }).catch(() => {});
  }
  restoreDevice();
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    saved = null;
  }
  // A reload keeps the session: the stream's first frame is a snapshot of the agent and calls.
  if (saved && saved.token) start(saved);
  else show("signin");
}

boot();
