// The JSON API over fetch: same-origin credentials, the CSRF token on changes, errors as exceptions.

/** A fetch failure from the JSON API. */
export class NotificationsRequestError extends Error {
  /** @param {string} message @param {number} status @param {string} code */
  constructor(message, status, code) {
    super(message);
    this.name = "NotificationsRequestError";
    this.status = status;
    this.code = code;
  }
}

/**
 * A call to the JSON API.
 * @param {{apiUrl: string, csrfToken: string}} config
 * @param {string} method
 * @param {string} path relative to the API base
 * @param {object} [body]
 * @param {{keepalive?: boolean}} [options] keepalive: the request outlives the page
 */
export async function apiRequest(config, method, path, body, { keepalive = false } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRFToken"] = config.csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(apiUrl(config, path), {
    method,
    headers,
    credentials: "same-origin",
    keepalive,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = data?.error ?? {};
    throw new NotificationsRequestError(error.message || response.statusText, response.status, error.code || "http_error");
  }
  return data;
}

/**
 * Whether the session still signs the user in (false on 401/403 from the JSON API).
 * @param {{apiUrl: string}} config
 */
export async function sessionIsValid(config) {
  const response = await fetch(apiUrl(config, "unread-count/"), {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  return response.status !== 401 && response.status !== 403;
}

/** @param {{apiUrl: string}} config @param {string} path */
function apiUrl(config, path) {
  return new URL(path, new URL(config.apiUrl, location.href));
}
