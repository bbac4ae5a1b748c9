// billingos.js: a dependency-free ES module for billingos's JSON API (MIT, part of billingos).
//
//   import { createClient } from "/billing/api/v1/billingos.js";
//   const billing = createClient({ apiKey: "bos_test_…" });   // an owner's key, with only the scopes it needs
//   if (await billing.hasFeature("export")) { … }
//   await billing.trackUsage("api_calls", 1);                 // an idempotency key is made for you
//
// Never put a server-to-server key (one acting for every owner) in a browser.

export class BillingOSError extends Error {
  constructor(problem, status, retryAfter) {
    super(problem.detail || problem.title || "HTTP " + status);
    this.name = "BillingOSError";
    this.status = status;
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

const newKey = () =>
  globalThis.crypto && crypto.randomUUID
    ? crypto.randomUUID()
    : Date.now().toString(36) + Math.random().toString(36).slice(2);

export function createClient({ apiKey, baseUrl = "/billing/api/v1", ownerId, fetch: fetchFn } = {}) {
  if (!apiKey) throw new TypeError("createClient: apiKey is required");
  const base = baseUrl.replace(/\/+$/, "");
  const send = fetchFn || globalThis.fetch.bind(globalThis);

  async function call(method, path, query, body) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query || {})) if (v != null) params.set(k, String(v));
    const qs = params.toString();
    const headers = { Authorization: "Bearer " + apiKey, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await send(base + "/" + path + (qs ? "?" + qs : ""), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const retry = response.headers.get("Retry-After");
      throw new BillingOSError(data, response.status, retry ? Number(retry) : undefined);
    }
    return data;
  }

  const owner = (options) => (options && options.ownerId) || ownerId;
  const event = (meter, value, o = {}) => ({
    meter,
    value,
    idempotency_key: o.idempotencyKey || newKey(),
    timestamp: o.timestamp instanceof Date ? o.timestamp.toISOString() : o.timestamp,
    owner_id: owner(o),
    properties: o.properties,
  });

  return {
    /** The full answer: { feature, allowed, limit, used, remaining, resets_at, reason }. */
    check: (feature, o = {}) =>
      call("GET", "entitlements/check", { feature, amount: o.amount, owner_id: owner(o) }),
    /** true when the owner may use the feature now. */
    hasFeature: async (feature, o) => (await call("GET", "entitlements/check", { feature, owner_id: owner(o) })).allowed,
    /** trackUsage("api_calls", 3, { idempotencyKey }) or trackUsage([{ meter, value, idempotencyKey }, …]). */
    trackUsage: (meter, value = 1, o = {}) =>
      Array.isArray(meter)
        ? call("POST", "usage", undefined, { events: meter.map((e) => event(e.meter, e.value ?? 1, e)) })
        : call("POST", "usage", undefined, event(meter, value, o)),
    getSubscription: (o) => call("GET", "subscription", { owner_id: owner(o) }),
    /** { items: [invoice, …] }, newest first. */
    listInvoices: (o = {}) => call("GET", "invoices", { status: o.status, limit: o.limit, owner_id: owner(o) }),
    getCustomer: (o) => call("GET", "customer", { owner_id: owner(o) }),
  };
}
