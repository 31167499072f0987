// Web Push for the app in the background: after sign-in this browser subscribes (where it
// can and the agent allows notifications) and tells the connector when the app is hidden,
// so a call reaches a phone whose app is not on screen.

function keyBytes(base64url) {
  const padded = base64url.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(base64url.length / 4) * 4, "=");
  return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
}

// "subscribed", or why not: "unsupported", "denied", "default" (not asked yet), "failed".
// `ask`: only from a tap of the agent's (browsers refuse a prompt without one).
export async function subscribe(api, { ask = false } = {}) {
  if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) {
    return "unsupported";
  }
  try {
    let permission = Notification.permission;
    if (permission === "default" && ask) permission = await Notification.requestPermission();
    if (permission !== "granted") return permission;
    const registration = await navigator.serviceWorker.ready;
    const { publicKey } = await api.request("GET", "/push/vapid-public-key");
    let subscription = await registration.pushManager.getSubscription();
    if (subscription) {
      // A subscription made for another connector key cannot be used: make a new one.
      const key = new Uint8Array(subscription.options.applicationServerKey || []);
      const wanted = keyBytes(publicKey);
      if (key.length !== wanted.length || key.some((b, i) => b !== wanted[i])) {
        await subscription.unsubscribe();
        subscription = null;
      }
    }
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: keyBytes(publicKey),
      });
    }
    await api.request("POST", "/push-subscriptions", subscription.toJSON());
    return "subscribed";
  } catch {
    return "failed"; // e.g. no push service reachable: the app still works in the foreground
  }
}

// Tells the connector on every visibility change; returns the function that stops it.
export function reportVisibility(api) {
  const send = () => {
    api.request("PUT", "/app-state", { visible: document.visibilityState === "visible" }).catch(() => {});
  };
  document.addEventListener("visibilitychange", send);
  return () => document.removeEventListener("visibilitychange", send);
}
