// Small pieces shared by the views.

import { h } from "./dom.js";

const STATUS_TEXT = {
  PENDING: "Pending upload",
  PROCESSING: "Processing",
  PROCESSED: "Processed",
  FAILED: "Failed",
};

/** A status badge: colour and a word (never colour alone). */
export function badge(status) {
  const known = Object.hasOwn(STATUS_TEXT, status);
  return h(
    "span",
    { class: `badge badge-${known ? status.toLowerCase() : "unknown"}`, dataset: { status: String(status) } },
    known ? STATUS_TEXT[status] : String(status),
  );
}

export function recordsBadge(state) {
  const text = {
    QUEUED: "Rows queued",
    INGESTING: "Storing rows",
    COMPLETE: "Rows stored",
    COMPLETE_WITH_ERRORS: "Rows stored, some rejected",
    FAILED: "Rows failed",
  };
  const kind = { COMPLETE: "processed", COMPLETE_WITH_ERRORS: "warning", FAILED: "failed" }[state] || "processing";
  return h("span", { class: `badge badge-${kind}`, dataset: { records: String(state) } }, text[state] || String(state));
}

/** A visible error message that screen readers announce. */
export function errorBox(error, prefix = "") {
  const text = error && error.message ? error.message : String(error);
  return h("div", { class: "notice notice-error", role: "alert" }, prefix ? `${prefix} ${text}` : text);
}

export function notice(text, kind = "info") {
  return h("div", { class: `notice notice-${kind}`, role: "status" }, text);
}

/** Previous/next paging over opaque cursors. */
export function pager({ page, hasPrevious, hasNext, onPrevious, onNext, label }) {
  if (!hasPrevious && !hasNext) return null; // one page: nothing to move between
  return h(
    "nav",
    { class: "pager", "aria-label": label || "Pages" },
    h("button", { type: "button", class: "secondary", disabled: !hasPrevious, onclick: onPrevious }, "← Previous"),
    h("span", { class: "pager-page" }, `Page ${page}`),
    h("button", { type: "button", class: "secondary", disabled: !hasNext, onclick: onNext }, "Next →"),
  );
}
