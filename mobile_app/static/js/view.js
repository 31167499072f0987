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

function button(label, key, ui, { cls = "", cmd, data = {}, expanded } = {}) {
  const busy = ui.busy.has(key);
  return h(
    "button",
    {
      type: "button",
      class: `${cls}${busy ? " busy" : ""}`.trim() || null,
      "aria-busy": busy ? "true" : null,
      disabled: busy,
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

export function drawHeader(state, ui) {
  const agent = state.agent;
  const since = agent && agent.stateChangeTime;
  const who = state.session
    ? `Agent ${state.session.agentId} · extension ${state.session.extension}`
    : "";
  return h(
    "header",
    { class: "top" },
    h(
      "div",
      { class: `pill ${PILL_CLASS[agent && agent.state] || "other"}` },
      h("span", { role: "status", id: "agent-state", text: stateWords(agent) }),
      since
        ? h("span", {
            class: "timer",
            "aria-label": "time in state",
            dataset: { since },
            text: elapsed(since, state.clockOffset),
          })
        : null,
    ),
    agent && agent.pendingState ? h("p", { class: "pending", text: pendingWords(agent) }) : null,
    h("p", { class: "who", text: who }),
    ui.notice ? h("p", { class: "notice", id: "notice", role: "note", text: ui.notice }) : null,
  );
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
  const readyShown = agent.state !== "READY";
  return h(
    "div",
    { class: "state-controls" },
    h(
      "div",
      { class: "row" },
      readyShown ? button("Ready", "state:READY", ui, { cls: "primary", cmd: "ready" }) : null,
      button("Not Ready", "sheet:not-ready", ui, {
        cmd: "sheet",
        data: { sheet: "not-ready" },
        expanded: ui.sheet === "not-ready",
      }),
    ),
    ui.sheet === "not-ready"
      ? reasonSheet("Not Ready reason", ui.reasons.NOT_READY, "not-ready", ui, "No reason")
      : null,
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
    h("summary", { text: `Call data (${entries.length})` }),
    list,
  );
  if (!ui.collapsed.has(dialog.id)) details.open = true;
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
  const caller = dialog.fromAddress === ext ? dialog.toAddress : dialog.fromAddress;
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
    h("h2", { text: title }),
    h("p", { class: "caller", text: caller || "Unknown caller" }),
    dialog.queueName ? h("p", { class: "queue", text: `Queue: ${dialog.queueName}` }) : null,
    started && mine !== "ALERTING"
      ? h("p", {
          class: "timer",
          "aria-label": "call time",
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
    callVariables(dialog, ui),
  );
  if (!control) return card;
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
              cmd: "wrapup",
              data: { dialog: dialog.id, label: r.label },
            }),
          ),
        )
      : null,
    dialog ? null : h("p", { class: "hint", text: "The call has ended; wrap-up ends on its own." }),
  );
}

export function drawFooter(state, ui) {
  return h(
    "footer",
    { class: "bottom" },
    button("Sign out", "sheet:sign-out", ui, {
      cmd: "sheet",
      data: { sheet: "sign-out" },
      expanded: ui.sheet === "sign-out",
    }),
    ui.sheet === "sign-out"
      ? reasonSheet("Sign-out reason", ui.reasons.LOGOUT, "sign-out", ui, "Sign out now")
      : null,
  );
}

export function drawHome(root, state, ui) {
  const active = document.activeElement;
  const focusKey = active && active.dataset ? active.dataset.key : null;
  const selection =
    active && active.tagName === "INPUT" ? [active.selectionStart, active.selectionEnd] : null;
  root.replaceChildren(
    drawHeader(state, ui),
    drawStateControls(state, ui),
    drawCalls(state, ui) || "",
    drawWrapUp(state, ui) || "",
    drawFooter(state, ui),
  );
  if (focusKey) {
    const again = root.querySelector(`[data-key="${CSS.escape(focusKey)}"]`);
    if (again) {
      again.focus();
      if (selection && again.setSelectionRange) again.setSelectionRange(...selection);
    }
  }
}

// Once a second: only the timers' text changes, nothing is redrawn.
export function tick(root, clockOffset) {
  for (const el of root.querySelectorAll("[data-since]")) {
    el.textContent = elapsed(el.dataset.since, clockOffset);
  }
}
