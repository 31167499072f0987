// What the app knows, made only from the connector's frames: pure functions, no DOM, no I/O.
// `apply(state, frame)` returns the next state; the view draws it.

export const WRAP_UP_STATES = new Set(["WORK", "WORK_READY"]);

export function initial(session = null) {
  return {
    session, // {agentId, extension, mode, dialNumber, callControl} from the sign-in
    agent: session ? session.agent || null : null,
    dialogs: new Map(), // id -> dialog, in the order they appeared
    system: { status: "IN_SERVICE", notifications: "connected" },
    lastSeq: 0,
    clockOffset: 0, // connector clock - this device's clock, in ms
    ended: null, // {reason, message} once the connector ended the session
  };
}

function copy(state, changes) {
  return { ...state, ...changes };
}

export function apply(state, frame) {
  const next = copy(state, {
    lastSeq: Math.max(state.lastSeq, frame.seq || 0),
    clockOffset: frame.ts ? frame.ts * 1000 - Date.now() : state.clockOffset,
  });
  const data = frame.data || {};
  switch (frame.type) {
    case "session.resync": {
      // A snapshot replaces everything shown: nothing from before the gap survives it.
      const dialogs = new Map();
      for (const dialog of data.dialogs || []) dialogs.set(dialog.id, dialog);
      next.agent = data.agent || null;
      next.dialogs = dialogs;
      if (data.system) next.system = { ...state.system, ...systemOf(data.system) };
      return next;
    }
    case "agent.state":
      next.agent = data;
      return next;
    case "dialog.created":
    case "dialog.updated": {
      const dialogs = new Map(state.dialogs);
      dialogs.set(data.id, data);
      next.dialogs = dialogs;
      return next;
    }
    case "dialog.ended": {
      const dialogs = new Map(state.dialogs);
      dialogs.delete(data.id);
      next.dialogs = dialogs;
      return next;
    }
    case "system.status":
      next.system = { ...state.system, ...systemOf(data) };
      return next;
    case "session.ended":
      next.ended = { reason: data.reason, message: data.message };
      return next;
    default:
      return next; // `error` frames are shown by the caller, not kept
  }
}

function systemOf(data) {
  const out = {};
  if (data.status === "IN_SERVICE" || data.status === "OUT_OF_SERVICE") out.status = data.status;
  if (data.notifications) out.notifications = data.notifications;
  else if (data.status === "reconnecting" || data.status === "connected") {
    out.notifications = data.status;
  }
  return out;
}

// -- reading a dialog ------------------------------------------------------------------------

export function myParticipant(dialog, extension) {
  return (dialog.participants || []).find((p) => p.mediaAddress === extension) || null;
}

export function otherParties(dialog, extension) {
  return (dialog.participants || []).filter((p) => p.mediaAddress !== extension);
}

export function myState(dialog, extension) {
  const me = myParticipant(dialog, extension);
  return me ? me.state : dialog.state;
}

// The dialogs to show, the customer's call first, then a consult call.
export function calls(state) {
  const all = [...state.dialogs.values()];
  const consult = (d) => d.callType === "CONSULT" || d.callType === "AGENT_INSIDE";
  return [...all.filter((d) => !consult(d)), ...all.filter(consult)];
}

export function inWrapUp(state) {
  const ext = state.agent ? state.agent.extension : "";
  return (
    (state.agent && WRAP_UP_STATES.has(state.agent.state)) ||
    [...state.dialogs.values()].some((d) => d.state === "WRAP_UP" || myState(d, ext) === "WRAP_UP")
  );
}

// The call a wrap-up reason goes to: the one in wrap-up that offers UPDATE_CALL_DATA.
export function wrapUpDialog(state) {
  const ext = state.agent ? state.agent.extension : "";
  const offering = calls(state).filter((d) => (d.actions || []).includes("UPDATE_CALL_DATA"));
  return (
    offering.find((d) => d.state === "WRAP_UP" || myState(d, ext) === "WRAP_UP") ||
    offering[offering.length - 1] ||
    null
  );
}

// -- words shown for Finesse's values (Finesse's vocabulary underneath, never a second one) --

const STATE_WORDS = {
  LOGIN: "Signing in",
  READY: "Ready",
  NOT_READY: "Not Ready",
  RESERVED: "Reserved",
  TALKING: "Talking",
  HOLD: "On hold",
  WORK: "Wrap-up",
  WORK_READY: "Wrap-up",
  LOGOUT: "Signed out",
  UNKNOWN: "Unknown",
};

export function stateWords(agent) {
  if (!agent) return "Unknown";
  const words = STATE_WORDS[agent.state] || agent.state;
  if (agent.state === "NOT_READY" && agent.reasonCode && agent.reasonCode.label) {
    return `${words} - ${agent.reasonCode.label}`;
  }
  return words;
}

export function pendingWords(agent) {
  if (!agent || !agent.pendingState) return "";
  const words = STATE_WORDS[agent.pendingState] || agent.pendingState;
  return `${words} after this call`;
}

const PARTY_WORDS = {
  ALERTING: "Ringing",
  ACTIVE: "Connected",
  HELD: "On hold",
  INITIATING: "Dialling",
  INITIATED: "Dialling",
  FAILED: "Failed",
  DROPPED: "Gone",
  WRAP_UP: "Wrap-up",
  ACCEPTED: "Accepted",
};

export function partyWords(state) {
  return PARTY_WORDS[state] || state;
}

// The title of a call card, from this agent's side of it.
export function callTitle(dialog, extension) {
  const mine = myState(dialog, extension);
  const consult = dialog.callType === "CONSULT" || dialog.callType === "AGENT_INSIDE";
  if (dialog.state === "WRAP_UP" || mine === "WRAP_UP") return "Call in wrap-up";
  if (mine === "ALERTING") return consult ? "Incoming consult call" : "Incoming call";
  if (mine === "HELD") return "Call on hold";
  if (mine === "INITIATING" || mine === "INITIATED") return "Calling";
  return consult ? "Consult call" : "On a call";
}

// Button words for Finesse's actions (the accessible names the issue fixes).
export const ACTION_WORDS = {
  ANSWER: "Answer",
  HOLD: "Hold",
  RETRIEVE: "Resume",
  CONSULT_CALL: "Consult",
  TRANSFER: "Transfer",
  CONFERENCE: "Conference",
  TRANSFER_SST: "Blind transfer",
  SEND_DTMF: "Keypad",
  DROP: "End call",
};

// The order buttons appear in; End call last, away from the thumb's resting place.
export function callButtons(dialog) {
  const offered = new Set(dialog.actions || []);
  return Object.keys(ACTION_WORDS).filter((a) => offered.has(a));
}

export function elapsed(since, clockOffset, now = Date.now()) {
  const start = Date.parse(since);
  if (!Number.isFinite(start)) return "";
  const seconds = Math.max(0, Math.floor((now + clockOffset - start) / 1000));
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = String(seconds % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}
