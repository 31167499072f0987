// Draws the home screen from the state (state.js) and what the agent has open (ui).
// Text goes in as text nodes, never as HTML: caller ids and call variables come from outside.
// Every button has a data-key, so focus and a pending spinner survive a redraw.

import {
  ACTION_WORDS,
  callButtons,
  callTitle,
  calls,
  elapsed,
  inWrapUp,
  myParticipant,
  myState,
  otherParties,
  partyWords,
  pendingWords,
  stateWords,
  wrapUpDialog,
} from "./state.js";

const LIVE = new Set(["ACTIVE", "HELD", "ALERTING", "INITIATING", "INITIATED"]);

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

function button(label, key, ui, { cls = "", cmd, data = {}, expanded, pressed } = {}) {
  const busy = ui.busy.has(key);
  // Busy is aria-disabled, not disabled: a disabled button drops the keyboard's focus.
  return h(
    "button",
    {
      type: "button",
      class: `${cls}${busy ? " busy" : ""}`.trim() || null,
      "aria-busy": busy ? "true" : null,
      "aria-disabled": busy ? "true" : null,
      "aria-pressed": pressed === undefined ? null : String(pressed),
      "aria-expanded": expanded === undefined ? null : String(expanded),
      dataset: { key, cmd, ...data },
    },
    label,
  );
}

const PILL_CLASS = {
  READY: "ready",
  RESERVED: "reserved",
  TALKING: "talking",
  HOLD: "talking",
  NOT_READY: "not-ready",
  WORK: "wrap-up",
  WORK_READY: "wrap-up",
};

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text; // unchanged text is not re-announced
}

// The header's elements live in index.html: the status is announced only when it changes.
export function updateHeader(state) {
  const agent = state.agent;
  const since = (agent && agent.stateChangeTime) || "";
  setText(document.getElementById("agent-state"), stateWords(agent));
  document.getElementById("pill").className = `pill ${PILL_CLASS[agent && agent.state] || "other"}`;
  const timer = document.getElementById("state-timer");
  timer.dataset.since = since;
  setText(timer, since ? elapsed(since, state.clockOffset) : "");
  const pending = document.getElementById("pending");
  setText(pending, pendingWords(agent));
  pending.hidden = !pending.textContent;
  const session = state.session;
  setText(
    document.getElementById("who"),
    session ? `Agent ${session.agentId} · extension ${session.extension}` : "",
  );
}

// A button that opens a sheet of reasons, and the sheet when it is open.
function sheetToggle(label, sheet, title, reasons, cmd, ui, emptyLabel) {
  const open = ui.sheet === sheet;
  const toggle = button(label, `sheet:${sheet}`, ui, { cmd: "sheet", data: { sheet }, expanded: open });
  return [toggle, open ? reasonSheet(title, reasons, cmd, ui, emptyLabel) : null];
}

function reasonSheet(title, reasons, cmd, ui, emptyLabel) {
  const items = reasons.length
    ? reasons.map((r) => button(r.label, `${cmd}:${r.id}`, ui, { cmd, data: { id: r.id } }))
    : [button(emptyLabel, `${cmd}:`, ui, { cmd, data: { id: "" } })];
  return h(
    "div",
    { class: "sheet", role: "group", "aria-label": title },
    h("p", { class: "sheet-title", text: title }),
    items,
  );
}

export function drawStateControls(state, ui) {
  const agent = state.agent || {};
  // While a call is offered (RESERVED) the router owns the agent: Finesse refuses any change.
  if (agent.state === "RESERVED") return null;
  const readyShown = agent.state !== "READY";
  const onCall = agent.state === "TALKING" || agent.state === "HOLD";
  const [notReady, sheet] = sheetToggle(
    "Not Ready", "not-ready", "Not Ready reason", ui.reasons.NOT_READY, "not-ready", ui, "No reason",
  );
  return h(
    "div",
    { class: "state-controls" },
    h(
      "div",
      { class: "row" },
      readyShown
        ? button("Ready", "state:READY", ui, { cls: onCall ? "" : "primary", cmd: "ready" })
        : null,
      notReady,
    ),
    sheet,
  );
}

function callVariables(dialog, ui) {
  const entries = Object.entries(dialog.callVariables || {}).filter(([, v]) => v !== "");
  if (!entries.length) return null;
  const list = h(
    "dl",
    { class: "vars" },
    entries.map(([name, value]) => [h("dt", { text: name }), h("dd", { text: value })]),
  );
  const details = h(
    "details",
    { dataset: { key: `vars:${dialog.id}` } },
    h("summary", { text: `Call data (${entries.length})`, dataset: { key: `summary:${dialog.id}` } }),
    list,
  );
  // A consult call repeats the customer's data: folded unless the agent opens it.
  const consult = dialog.callType === "CONSULT" || dialog.callType === "AGENT_INSIDE";
  const folded = ui.collapsed.has(dialog.id) || (consult && !ui.expanded.has(dialog.id));
  if (!folded) details.open = true;
  return details;
}

function numberForm(dialog, kind, ui) {
  const label = kind === "consult" ? "Number to consult" : "Number to transfer to";
  const submit = kind === "consult" ? "Start consult" : "Transfer now";
  const id = `number-${dialog.id}`;
  return h(
    "form",
    { class: "number-form", dataset: { cmd: kind, dialog: dialog.id } },
    h("label", { for: id, text: label }),
    h("input", {
      id,
      type: "tel",
      inputmode: "tel",
      autocomplete: "off",
      required: true,
      value: ui.formNumber,
      dataset: { key: `input:${dialog.id}:${kind}` },
    }),
    h(
      "button",
      { type: "submit", class: "primary", dataset: { key: `submit:${dialog.id}:${kind}` } },
      submit,
    ),
  );
}

function keypad(dialog, ui) {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];
  return h(
    "div",
    { class: "keypad", role: "group", "aria-label": "Keypad digits" },
    keys.map((k) =>
      button(k, `dtmf:${dialog.id}:${k}`, ui, { cmd: "dtmf", data: { dialog: dialog.id, digit: k } }),
    ),
  );
}

function callCard(dialog, state, ui) {
  const ext = state.agent ? state.agent.extension : state.session.extension;
  const me = myParticipant(dialog, ext);
  const others = otherParties(dialog, ext);
  const mine = me ? me.state : dialog.state;
  // The party on the line: after a transfer `fromAddress` is the agent who transferred.
  const live = others.find((p) => LIVE.has(p.state));
  const caller = live
    ? live.mediaAddress
    : dialog.fromAddress === ext
      ? dialog.toAddress
      : dialog.fromAddress;
  const started = (me && me.startTime) || "";
  const control = state.session.callControl;
  const title = callTitle(dialog, ext);
  const card = h(
    "article",
    {
      class: `call ${mine === "ALERTING" ? "ringing" : ""}`.trim(),
      "aria-label": `${title} ${caller}`,
      dataset: { dialogId: dialog.id },
    },
    h("h2", { text: title, tabindex: "-1", dataset: { key: `title:${dialog.id}` } }),
    h("p", { class: "caller", text: caller || "Unknown caller" }),
    dialog.queueName ? h("p", { class: "queue", text: `Queue: ${dialog.queueName}` }) : null,
    started && mine !== "ALERTING"
      ? h("p", {
          class: "timer",
          dataset: { since: started },
          text: elapsed(started, state.clockOffset),
        })
      : null,
    others.length
      ? h(
          "ul",
          { class: "parties", "aria-label": "Other parties" },
          others.map((p) => h("li", { text: `${p.mediaAddress}: ${partyWords(p.state)}` })),
        )
      : null,
  );
  const data = callVariables(dialog, ui);
  if (!control) {
    if (data) card.append(data);
    return card;
  }
  const actions = callButtons(dialog);
  // Call by call: the phone itself rings; the app's Answer (when offered) is the second way.
  if (mine === "ALERTING" && (state.session.mode === "CALL_BY_CALL" || !actions.includes("ANSWER"))) {
    card.append(h("p", { class: "hint", text: "Answer on your phone" }));
  }
  const main = actions.filter((a) => a !== "DROP");
  const forms = { CONSULT_CALL: "consult", TRANSFER_SST: "blind", SEND_DTMF: "keypad" };
  card.append(
    h(
      "div",
      { class: "actions" },
      main.map((action) => {
        const form = forms[action];
        const key = `action:${dialog.id}:${action}`;
        if (form) {
          const open = ui.form && ui.form.dialog === dialog.id && ui.form.kind === form;
          return button(ACTION_WORDS[action], key, ui, {
            cmd: "form",
            data: { dialog: dialog.id, kind: form },
            expanded: Boolean(open),
          });
        }
        const cls = action === "ANSWER" ? "primary" : "";
        return button(ACTION_WORDS[action], key, ui, {
          cls,
          cmd: "action",
          data: { dialog: dialog.id, action },
        });
      }),
    ),
  );
  if (ui.form && ui.form.dialog === dialog.id) {
    card.append(ui.form.kind === "keypad" ? keypad(dialog, ui) : numberForm(dialog, ui.form.kind, ui));
  }
  // The call data after the actions: a long list never pushes Answer or Hold off the screen.
  if (data) card.append(data);
  if (actions.includes("DROP")) {
    card.append(
      h(
        "div",
        { class: "end-row" },
        button("End call", `action:${dialog.id}:DROP`, ui, {
          cls: "danger",
          cmd: "action",
          data: { dialog: dialog.id, action: "DROP" },
        }),
      ),
    );
  }
  return card;
}

export function drawCalls(state, ui) {
  // With call control a call in wrap-up moves to the wrap-up section; state-only shows all.
  const control = state.session.callControl;
  const ext = state.agent ? state.agent.extension : state.session.extension;
  const wrapping = (d) => d.state === "WRAP_UP" || myState(d, ext) === "WRAP_UP";
  const list = calls(state).filter((d) => !control || !wrapping(d));
  if (!list.length) return null;
  return h(
    "section",
    { id: "call", "aria-label": "Call" },
    state.session.callControl
      ? null
      : h("p", {
          class: "hint",
          text:
            "Call control is not available: you signed in with a desk phone (state only). " +
            "Answer and handle calls on your desk phone.",
        }),
    list.map((dialog) => callCard(dialog, state, ui)),
  );
}

export function drawWrapUp(state, ui) {
  if (!inWrapUp(state) || !state.session.callControl) return null;
  const dialog = wrapUpDialog(state);
  const chosen = dialog ? dialog.wrapUpReason : "";
  const reasons = ui.wrapUpReasons;
  return h(
    "section",
    { id: "wrap-up", "aria-label": "Wrap-up" },
    h("h2", { text: "Wrap-up" }),
    chosen ? h("p", { class: "chosen", text: `Wrap-up reason: ${chosen}` }) : null,
    dialog && reasons.length
      ? h(
          "div",
          { class: "sheet", role: "group", "aria-label": "Wrap-up reasons" },
          reasons.map((r) =>
            button(r.label, `wrapup:${r.label}`, ui, {
              cls: r.label === chosen ? "chosen" : "",
              pressed: r.label === chosen,
              cmd: "wrapup",
              data: { dialog: dialog.id, label: r.label },
            }),
          ),
        )
      : null,
    dialog ? null : h("p", { class: "hint", text: "The call has ended; wrap-up ends on its own." }),
  );
}

const PUSH_WORDS = {
  subscribed: "Calls reach this phone while the app is in the background.",
  denied: "Notifications are blocked: keep the app open to see calls.",
  default: "Turn on notifications to see calls while the app is in the background.",
  unsupported: "This browser cannot show calls while the app is in the background.",
  failed: "Calls cannot reach this phone in the background now: keep the app open.",
};

export function drawFooter(state, ui) {
  return h(
    "footer",
    { class: "bottom" },
    ui.push ? h("p", { class: "push", id: "push-status", text: PUSH_WORDS[ui.push] }) : null,
    ui.push === "default"
      ? button("Turn on call notifications", "push", ui, { cmd: "push", cls: "wide" })
      : null,
    sheetToggle("Sign out", "sign-out", "Sign-out reason", ui.reasons.LOGOUT, "sign-out", ui, "Sign out now"),
  );
}

function replacedView(ui) {
  return h(
    "div",
    { class: "replaced" },
    h("p", { text: "This session is open in another window, so this one stopped updating." }),
    button("Use this window", "reclaim", ui, { cls: "primary", cmd: "reclaim" }),
  );
}

export function drawHome(root, state, ui) {
  updateHeader(state);
  const active = document.activeElement;
  const focusKey = active && root.contains(active) && active.dataset ? active.dataset.key : null;
  const selection =
    active && active.tagName === "INPUT" ? [active.selectionStart, active.selectionEnd] : null;
  if (ui.replaced) {
    root.replaceChildren(replacedView(ui));
  } else {
    root.replaceChildren(
      drawStateControls(state, ui) || "",
      drawCalls(state, ui) || "",
      drawWrapUp(state, ui) || "",
      drawFooter(state, ui),
    );
  }
  noteAppearances(root, ui);
  if (!focusKey) return;
  const again = root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
  if (again) {
    again.focus();
    if (selection && again.setSelectionRange) again.setSelectionRange(...selection);
    return;
  }
  // The focused control is gone (Hold became Resume, the call ended): keep the keyboard in
  // the call it was about, else on the agent's state.
  const dialogId = focusKey.split(":")[1];
  const title = dialogId && root.querySelector(`[data-key="title:${CSS.escape(dialogId)}"]`);
  (title || document.getElementById("agent-state").parentElement).focus?.();
}

// A button that appears where the finger just tapped (Answer, then Hold in the same spot)
// ignores taps for a moment: a double tap must not answer and then hold the call.
const FRESH_MS = 600;

function noteAppearances(root, ui) {
  const now = performance.now();
  const seen = new Map();
  for (const el of root.querySelectorAll("button[data-key]")) {
    const key = el.dataset.key;
    const born = ui.appeared.get(key) ?? now;
    seen.set(key, born);
    const left = FRESH_MS - (now - born);
    if (left > 0 && !el.hasAttribute("aria-disabled")) {
      el.setAttribute("aria-disabled", "true");
      setTimeout(() => {
        if (el.getAttribute("aria-busy") !== "true") el.removeAttribute("aria-disabled");
      }, left);
    }
  }
  ui.appeared = seen;
}

// Once a second: only the timers' text changes, nothing is redrawn.
export function tick(root, clockOffset) {
  for (const el of root.querySelectorAll("[data-since]")) {
    if (!el.dataset.since) continue;
    el.textContent = elapsed(el.dataset.since, clockOffset);
  }
}
