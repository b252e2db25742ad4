// The REST API client: one place that adds the id token, maps errors and
// ends the session on a 401. The API's base URL comes from config.json ("" is
// the page's own origin, as locally; on AWS, API Gateway's URL).

import * as auth from "./auth.js";
import { settings } from "./settings.js";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `Request failed (${status})`);
    this.name = "ApiError";
    this.status = status;
    this.code = code || "error";
  }
}

let configPromise = null;

/** GET /config (no auth: the upload limit and the bucket), once per page load. */
export function config() {
  configPromise =
    configPromise ||
    request("/config", { auth: false }).catch((error) => {
      configPromise = null;
      throw error;
    });
  return configPromise;
}

function withQuery(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

async function request(path, { method = "GET", body, query, auth: needsAuth = true } = {}) {
  const site = await settings();
  const headers = { Accept: "application/json" };
  if (needsAuth) headers.Authorization = await auth.idToken(site);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(site.api + withQuery(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, "network", "The docpipe API cannot be reached. Check your connection and try again.");
  }
  if (response.status === 401 && needsAuth) {
    auth.clear("Your session is no longer valid. Please sign in again.");
    throw new ApiError(401, "unauthorized", "Your session is no longer valid. Please sign in again.");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    throw new ApiError(response.status, data && data.code, data && data.message);
  }
  return data;
}

/**
 * A link the document's own answer carried (`download`, `preview`, `text`), while it is still valid
 * (30 s to spare), else null: the caller then asks the link's own route.
 */
export function carried(doc, name) {
  const link = doc && doc[name];
  if (!link || typeof link.url !== "string" || typeof doc.receivedAt !== "number") return null;
  return Date.now() - doc.receivedAt < (link.expires_in - 30) * 1000 ? link : null;
}

export const api = {
  listDocuments: (query, everyone = false) => request(everyone ? "/admin/documents" : "/documents", { query }),
  document: (id) => request(`/documents/${encodeURIComponent(id)}`).then((doc) => Object.assign(doc, { receivedAt: Date.now() })),
  records: (id, query) => request(`/documents/${encodeURIComponent(id)}/records`, { query }),
  recordErrors: (id, query) => request(`/documents/${encodeURIComponent(id)}/records/errors`, { query }),
  download: (id) => request(`/documents/${encodeURIComponent(id)}/download`),
  preview: (id) => request(`/documents/${encodeURIComponent(id)}/preview`),
  text: (id) => request(`/documents/${encodeURIComponent(id)}/text`),
  remove: (id) => request(`/documents/${encodeURIComponent(id)}`, { method: "DELETE" }),
  reprocess: (id) => request(`/documents/${encodeURIComponent(id)}/reprocess`, { method: "POST" }),
  stats: () => request("/stats"),
  backfills: (query) => request("/admin/backfills", { query }),
  startBackfill: (body) => request("/admin/backfills", { method: "POST", body }),
  stopBackfill: (id) => request(`/admin/backfills/${encodeURIComponent(id)}`, { method: "DELETE" }),
  createUpload: (file) =>
    request("/uploads", {
      method: "POST",
      body: { filename: file.name, content_type: contentType(file), size: file.size },
    }),
};

/** The declared content type: the browser's guess, or a neutral one (docpipe detects the real type). */
export function contentType(file) {
  return /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,63}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/.test(file.type)
    ? file.type
    : "application/octet-stream";
}

/**
 * Send a file with a presigned POST: the policy's fields first, the file last.
 * XMLHttpRequest, because fetch cannot report upload progress.
 * Resolves when S3 accepted the file; `onProgress(sent, total)`.
 */
export function postFile(upload, file, onProgress, signal) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields || {})) form.append(name, value);
    form.append("file", file);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", new URL(upload.url).href);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded, event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve();
      else reject(new ApiError(xhr.status, "upload_refused", storageError(xhr.responseText, xhr.status)));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", "The upload was interrupted.")));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", "The upload was cancelled.")));
    if (signal) signal.addEventListener("abort", () => xhr.abort());
    xhr.send(form);
  });
}

function storageError(body, status) {
  const match = /<Message>([^<]{1,300})<\/Message>/.exec(body || "");
  return match ? `Storage refused the file: ${match[1]}` : `Storage refused the file (${status}).`;
}
