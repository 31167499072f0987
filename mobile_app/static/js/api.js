// The mobile API over fetch: JSON in, JSON out, refusals as ApiError with the API's words.

export class ApiError extends Error {
  constructor(status, type, message, field) {
    super(message);
    this.status = status;
    this.type = type;
    this.field = field || null;
  }
}

export class Api {
  constructor(base = "/api/v1") {
    this.base = base;
    this.token = null;
  }

  async request(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "No connection to the server. Check the network and try again.");
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = null;
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const retry = response.headers.get("Retry-After");
      let message = error.message || `The server answered ${response.status}.`;
      if (response.status === 429 && retry) message += ` Try again in ${retry} s.`;
      throw new ApiError(response.status, error.type || "http_error", message, error.field);
    }
    return data;
  }

  signIn(agentId, password, extension, mobile) {
    const body = { agentId, password, extension };
    if (mobile) body.mobile = mobile;
    return this.request("POST", "/sessions", body);
  }

  signOut(reasonCodeId) {
    return this.request("DELETE", "/sessions/current", reasonCodeId ? { reasonCodeId } : {});
  }

  setState(state, reasonCodeId) {
    const body = { state };
    if (reasonCodeId) body.reasonCodeId = reasonCodeId;
    return this.request("PUT", "/agent/state", body);
  }

  agent() {
    return this.request("GET", "/agent");
  }

  reasonCodes(category) {
    return this.request("GET", `/reason-codes?category=${encodeURIComponent(category)}`);
  }

  wrapUpReasons() {
    return this.request("GET", "/wrapup-reasons");
  }

  action(dialogId, action, extra = {}) {
    return this.request("POST", `/dialogs/${encodeURIComponent(dialogId)}/actions`, {
      action,
      ...extra,
    });
  }
}
