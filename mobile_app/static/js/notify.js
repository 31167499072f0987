// What the service worker shows for a pushed event, and what a click on it does. Pure over
// the frame and the Clients API, so the tests run it with synthetic events in a page.

export function notificationFor(frame) {
  const data = (frame && frame.data) || {};
  switch (frame && frame.type) {
    case "dialog.created": {
      const from = data.fromAddress || "an unknown number";
      const title = data.queueName ? `Incoming call from ${from}, ${data.queueName}` : `Incoming call from ${from}`;
      const vars = Object.entries(data.callVariables || {}).filter(([, v]) => v !== "");
      const lines = vars.slice(0, 4).map(([k, v]) => `${k}: ${v}`);
      if (data.callVariablesTrimmed || frame.trimmed) lines.push("More call data in the app");
      return {
        title,
        options: {
          body: lines.join("\n") || "Open the app to see the call.",
          tag: `dialog-${data.id}`, // one notification per call: an update replaces it
          renotify: true,
          requireInteraction: true,
          icon: "/icons/icon-192.png",
          data: { url: "/", seq: frame.seq, dialogId: data.id },
        },
      };
    }
    case "session.ended":
      return {
        title: "You were signed out",
        options: {
          body: data.message || "Sign in again to take calls.",
          tag: "session",
          icon: "/icons/icon-192.png",
          data: { url: "/", seq: frame.seq },
        },
      };
    case "system.status":
      if (data.status !== "OUT_OF_SERVICE") return null;
      return {
        title: "Finesse is out of service",
        options: {
          body: "Calls and state changes may not reach you until it is back.",
          tag: "system",
          icon: "/icons/icon-192.png",
          data: { url: "/", seq: frame.seq },
        },
      };
    default:
      return null;
  }
}

// A click focuses an open window of the app (which resumes its stream on becoming visible)
// or opens one.
export async function openApp(clients, url = "/") {
  const windows = await clients.matchAll({ type: "window", includeUncontrolled: true });
  for (const client of windows) {
    if (new URL(client.url).pathname === new URL(url, client.url).pathname && "focus" in client) {
      return client.focus();
    }
  }
  return clients.openWindow(url);
}
