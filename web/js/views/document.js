// One document: status (and a CSV's ingest state), the failure reason, warnings, its content inline
// (preview.js), its rows (rows.js), metadata (normalized fields first, details folded, nested values as
// tables), the timeline, download, reprocess and delete.

import { api, carried } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { bytes, count, isFinal, label, RECORD_FINAL, value, when } from "../format.js";
import { poller } from "../poll.js";
import { drawPreview } from "../preview.js";
import { recordsTable } from "../rows.js";
import { badge, errorBox, notice, recordsBadge } from "../ui.js";

// The metadata vocabulary's core fields, in reading order.
const CORE = [
  "title", "author", "subject", "keywords", "language", "mime_type", "family", "size", "extension",
  "extension_mismatch", "created", "modified", "creator_tool", "producer", "page_count", "word_count", "encrypted",
  "width", "height", "orientation", "camera_make", "camera_model", "taken_at", "gps_latitude", "gps_longitude",
  "duration_seconds", "bitrate", "sample_rate", "channels", "codec", "frame_rate", "row_count", "column_count",
  "columns", "delimiter", "encoding", "has_header", "entry_count", "uncompressed_size", "from", "to", "cc",
  "sent_at", "attachment_count", "duplicate_of", "sha256",
];
const BYTE_FIELDS = new Set(["size", "uncompressed_size"]);
const DATE_FIELDS = new Set(["created", "modified", "taken_at", "sent_at"]);
const MAX_DEPTH = 6;
const MAX_TABLE_ROWS = 200;

export function renderDocument(main, { id }) {
  const parts = {
    head: h("div", { class: "page-head doc-head" }),
    actions: h("div", { class: "actions" }),
    status: h("div", { class: "doc-status" }),
    metadata: h("section", { class: "card", "aria-labelledby": "h-metadata" }),
    preview: h("section", { class: "card preview-card", id: "preview", "aria-labelledby": "h-preview" }),
    records: h("section", { class: "card", "aria-labelledby": "h-records", hidden: true }),
    timeline: h("section", { class: "card", "aria-labelledby": "h-timeline" }),
    message: h("div", { class: "action-message" }),
  };
  replace(
    main,
    h("p", { class: "back" }, h("a", { href: "#/documents" }, "← All documents")),
    parts.head,
    parts.status,
    parts.actions,
    parts.message,
    h("div", { class: "doc-grid" }, h("div", { class: "doc-main" }, parts.preview, parts.records), h("div", { class: "doc-side" }, parts.metadata, parts.timeline)),
  );
  replace(parts.head, h("h1", {}, "Loading…"));

  let doc = null;
  let previewShownFor = null;
  let rows = null;

  const live = poller(
    async () => {
      let fresh;
      try {
        fresh = await api.document(id);
      } catch (error) {
        if (error.status === 404) {
          replace(main, h("h1", {}, "Document not found"), notice("This document does not exist, or it is not yours."), h("p", {}, h("a", { href: "#/documents" }, "Back to your documents")));
          return { again: false };
        }
        throw error;
      }
      const changed = !doc || doc.status !== fresh.status || doc.updated_at !== fresh.updated_at || JSON.stringify(doc.records) !== JSON.stringify(fresh.records);
      if (doc && doc.status !== fresh.status) announce(`${fresh.filename} is now ${fresh.status.toLowerCase()}`);
      doc = fresh;
      if (changed) draw();
      const recordsBusy = (doc.records && !RECORD_FINAL.includes(doc.records.state)) || (isCsv(doc) && doc.status === "PROCESSED" && !doc.records);
      if (rows && doc.records && !changed) rows.progress(doc.records);
      return { again: !isFinal(doc.status) || Boolean(recordsBusy) || hasPendingReprocess(doc), changed };
    },
    { min: 1000, max: 15000 },
  );

  function draw() {
    replace(parts.head, h("h1", { class: "doc-title" }, doc.filename));
    replace(
      parts.status,
      h("span", { class: "states" }, badge(doc.status), doc.records ? recordsBadge(doc.records.state) : null),
      h("span", { class: "muted" }, ` Uploaded `, h("time", { datetime: doc.created_at, title: doc.created_at }, when(doc.created_at)), ` · updated `, h("time", { datetime: doc.updated_at, title: doc.updated_at }, when(doc.updated_at))),
      doc.error ? h("div", { class: "notice notice-error failure", role: "alert" }, h("strong", {}, "Processing failed: "), doc.error.message || "", " ", h("code", {}, doc.error.code || "")) : null,
      doc.warnings && doc.warnings.length
        ? h("div", { class: "notice notice-warning" }, h("strong", {}, "Warnings"), h("ul", {}, doc.warnings.map((w) => h("li", {}, w))))
        : null,
    );
    drawActions();
    drawMetadata(parts.metadata, doc);
    drawTimeline(parts.timeline, doc);
    const heading = h("h2", { id: "h-preview" }, "Preview");
    if (doc.status === "PROCESSED" && previewShownFor !== doc.updated_at) {
      previewShownFor = doc.updated_at;
      drawPreview(parts.preview, heading, doc);
    } else if (doc.status !== "PROCESSED") {
      previewShownFor = null;
      replace(parts.preview, heading, notice(doc.status === "FAILED" ? "No preview: processing failed." : "The preview appears once the document is processed."));
    }
    if (doc.records || isCsv(doc)) {
      parts.records.hidden = false;
      if (!rows) rows = recordsTable(parts.records, doc);
      rows.progress(doc.records);
    }
  }

  function drawActions() {
    const uploaded = doc.status !== "PENDING";
    replace(
      parts.actions,
      h("button", { type: "button", id: "download", disabled: !uploaded, onclick: download }, "Download"),
      h("button", { type: "button", id: "reprocess", class: "secondary", disabled: !uploaded || doc.status === "PROCESSING", onclick: reprocess }, "Reprocess"),
      h("button", { type: "button", id: "delete", class: "danger", onclick: remove }, "Delete"),
    );
  }

  async function download() {
    replace(parts.message);
    try {
      const { url } = carried(doc, "download") || (await api.download(id)); // no second request while it is valid
      const link = h("a", { href: url, rel: "noopener", download: doc.filename, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      replace(parts.message, errorBox(error, "The download could not start."));
    }
  }

  async function reprocess() {
    replace(parts.message);
    try {
      const answer = await api.reprocess(id);
      const text = {
        requested: "Reprocessing was requested.",
        already_requested: "Reprocessing was already requested.",
        already_in_progress: "This document is being processed right now.",
      };
      replace(parts.message, notice(text[answer.reprocess] || "Reprocessing was requested.", "success"));
      previewShownFor = null;
      live.now();
    } catch (error) {
      replace(parts.message, errorBox(error, "Reprocessing could not be requested."));
    }
  }

  async function remove() {
    if (!window.confirm(`Delete "${doc.filename}"? Its file, preview and rows are removed for good.`)) return;
    try {
      await api.remove(id);
      announce(`${doc.filename} deleted`);
      window.location.hash = "#/documents";
    } catch (error) {
      replace(parts.message, errorBox(error, "The document could not be deleted."));
    }
  }

  live.now();
  return () => live.stop();
}

function hasPendingReprocess(doc) {
  const last = (doc.timeline || [])[doc.timeline.length - 1];
  return Boolean(last && last.event === "reprocess_requested");
}

function isCsv(doc) {
  const meta = doc.metadata || {};
  return meta.mime_type === "text/csv" || meta.family === "tabular";
}

function drawMetadata(section, doc) {
  const meta = doc.metadata || {};
  const core = CORE.filter((k) => k in meta);
  const other = Object.keys(meta).filter((k) => !CORE.includes(k) && k !== "details").sort();
  const entries = [...core, ...other].map((k) => [label(k), field(k, meta[k])]);
  const file = [
    ["Document id", h("code", {}, doc.id)],
    ["Declared type", doc.declared_type || "—"],
    ["Declared size", bytes(doc.declared_size)],
    ["Stored as", doc.key ? h("code", {}, doc.key) : "—"],
  ];
  if (doc.owner !== undefined) file.push(["Owner", doc.owner || "none (dropped into S3)"]);
  replace(
    section,
    h("h2", { id: "h-metadata" }, "Metadata"),
    entries.length ? definitionList(entries, "metadata") : notice(isFinal(doc.status) ? "No metadata was extracted." : "Metadata appears once the document is processed."),
    meta.details && typeof meta.details === "object" && Object.keys(meta.details).length
      ? h("details", { class: "fold" }, h("summary", {}, `Details (${fieldCount(meta.details)})`), nested(meta.details, 0))
      : null,
    h("details", { class: "fold" }, h("summary", {}, "File"), definitionList(file, "file")),
  );
}

function field(key, v) {
  if (BYTE_FIELDS.has(key) && typeof v === "number") return v < 1024 ? bytes(v) : `${bytes(v)} (${count(v)} bytes)`;
  if (DATE_FIELDS.has(key) && typeof v === "string") return h("time", { datetime: v, title: v }, when(v));
  if (key === "sha256") return h("code", { class: "hash" }, String(v));
  if (key === "duplicate_of" && typeof v === "string" && /^[0-9a-f]{32}$/.test(v)) return duplicateLink(v);
  if (key === "gps_latitude" || key === "gps_longitude") return value(v);
  if (Array.isArray(v) || (v && typeof v === "object")) return nested(v, 0);
  return value(v);
}

/** "Same content as <the earlier document>", named once the API says what it is. */
function duplicateLink(otherId) {
  const link = h("a", { href: `#/documents/${otherId}`, class: "duplicate-of" }, "an earlier upload");
  api
    .document(otherId)
    .then((other) => replace(link, other.filename))
    .catch(() => null); // deleted since, or not visible to this caller: the link still says what it is
  return h("span", {}, "Same content as ", link);
}

function definitionList(entries, name) {
  return h("dl", { class: "meta", dataset: { list: name } }, entries.map(([k, v]) => h("div", { class: "meta-row" }, h("dt", {}, k), h("dd", {}, v))));
}

/** Nested values as people read them: lists of records as tables, objects as definition lists. */
function nested(v, depth) {
  if (v === null || typeof v !== "object") return value(v);
  if (depth >= MAX_DEPTH) return JSON.stringify(v).slice(0, 500);
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object")) return value(v);
    if (v.every((x) => x && typeof x === "object" && !Array.isArray(x))) return recordTable(v, depth);
    return h("ol", { class: "nested" }, v.map((x) => h("li", {}, nested(x, depth + 1))));
  }
  return h("dl", { class: "meta nested" }, Object.entries(v).map(([k, x]) => h("div", { class: "meta-row" }, h("dt", {}, label(k)), h("dd", {}, nested(x, depth + 1)))));
}

function recordTable(items, depth) {
  const columns = [];
  for (const item of items) for (const key of Object.keys(item)) if (!columns.includes(key)) columns.push(key);
  const shown = items.slice(0, MAX_TABLE_ROWS);
  return h(
    "div",
    { class: "scroll-x nested-table" },
    h(
      "table",
      { class: "rows" },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, label(c))))),
      h("tbody", {}, shown.map((item) => h("tr", {}, columns.map((c) => h("td", {}, nested(item[c], depth + 1)))))),
    ),
    items.length > shown.length ? h("p", { class: "small muted" }, `${count(items.length - shown.length)} more not shown.`) : null,
  );
}

function drawTimeline(section, doc) {
  const events = doc.timeline || [];
  replace(
    section,
    h("h2", { id: "h-timeline" }, "Timeline"),
    events.length
      ? h(
          "ol",
          { class: "timeline" },
          events.map((e) => {
            const extra = Object.entries(e).filter(([k]) => k !== "at" && k !== "event");
            return h(
              "li",
              {},
              h("time", { datetime: e.at || "", title: e.at || "" }, when(e.at)),
              h("span", { class: "event" }, label(e.event || "event")),
              extra.length ? h("span", { class: "muted small" }, extra.map(([k, x]) => `${label(k)}: ${typeof x === "string" && (DATE_FIELDS.has(k) || k === "version") ? when(x) : value(x)}`).join(" · ")) : null,
            );
          }),
        )
      : notice("Nothing has happened yet."),
  );
}

function fieldCount(details) {
  const n = Object.keys(details).length;
  return `${n} ${n === 1 ? "field" : "fields"}`;
}
