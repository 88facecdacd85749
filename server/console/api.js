// The API client: the token kept in sessionStorage, and every failure turned
// into a sentence a dispatcher understands.

const TOKEN_KEY = "vangnet.token";

/** The signed-in dispatcher's token, for this browser tab only. */
export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  set: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.clear(),
};

/** A failed call: its HTTP status (0 when the server was not reached) and a message for people. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const unauthorizedListeners = [];

/** Calls `listener` whenever the API refuses the token. */
export function onUnauthorized(listener) {
  unauthorizedListeners.push(listener);
}

/** A message for people about an answer with `status`; `detail` is the API's own `error`. */
export function explain(status, detail) {
  switch (status) {
    case 0:
      return "The server cannot be reached. Check the network; the console keeps trying.";
    case 401:
      return "Your sign-in is no longer valid (the token expired or was refused). Sign in again with a fresh token.";
    case 403:
      return "Your token does not allow this: it is for another role or another region.";
    case 404:
      return "Not found, or not in your regions.";
    case 409:
      return "This alert was changed meanwhile (perhaps by a colleague); the view now shows its current state.";
    case 413:
      return "The note is too long.";
    case 422:
      return detail ? `Not accepted: ${detail}.` : "Not accepted.";
    case 429:
      return "Too many actions in a short time. Wait a few seconds and try again.";
    case 503:
      return "The service is temporarily unavailable. Try again in a moment.";
    default:
      return `The server answered ${status}${detail ? `: ${detail}` : ""}.`;
  }
}

/** Calls the API at `path`; the JSON answer, or an ApiError. */
export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, explain(0));
  }
  if (response.ok) return response.status === 204 ? null : response.json();
  const detail = await response
    .json()
    .then((answer) => (typeof answer?.error === "string" ? answer.error : null))
    .catch(() => null);
  if (response.status === 401) unauthorizedListeners.forEach((listener) => listener());
  throw new ApiError(response.status, explain(response.status, detail));
}

/**
 * What a token says about its holder (`sub`, `role`, `regions`, `exp`), read
 * without checking it (the server does that), or null when it is no JWT.
 */
export function readClaims(token) {
  const parts = token.split(".");
  if (parts.length !== 3 || token.length > 8192) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const claims = JSON.parse(json);
    if (typeof claims !== "object" || claims === null) return null;
    return {
      sub: typeof claims.sub === "string" ? claims.sub : "",
      role: typeof claims.role === "string" ? claims.role : "",
      regions: Array.isArray(claims.regions) ? claims.regions.filter((r) => typeof r === "string") : [],
      exp: Number.isFinite(claims.exp) ? claims.exp : 0,
    };
  } catch {
    return null;
  }
}
