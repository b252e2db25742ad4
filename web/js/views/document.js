// One document: status, error, metadata (normalized fields first, details
// folded), timeline, preview, download, CSV rows, reprocess and delete.

import { api } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { bytes, count, isFinal, label, RECORD_FINAL, value, when } from "../format.js";
import { poller } from "../poll.js";
import { badge, errorBox, notice, pager, recordsBadge } from "../ui.js";

// The metadata vocabulary's core fields, in reading order.
const CORE = [
  "title", "author", "subject", "keywords", "language", "mime_type", "family", "size", "extension",
  "extension_mismatch", "created", "modified", "creator_tool", "producer", "page_count", "word_count", "encrypted",
  "width", "height", "orientation", "camera_make", "camera_model", "taken_at", "gps_latitude", "gps_longitude",
  "duration_seconds", "bitrate", "sample_rate", "channels", "codec", "frame_rate", "row_count", "column_count",
  "columns", "delimiter", "encoding", "has_header", "entry_count", "uncompressed_size", "from", "to", "cc",
  "sent_at", "attachment_count", "sha256",
];
const BYTE_FIELDS = new Set(["size", "uncompressed_size"]);
const DATE_FIELDS = new Set(["created", "modified", "taken_at", "sent_at"]);
const MAX_PREVIEW_CHARS = 4 * 1024 * 1024;
const MAX_DEPTH = 6;
const ROWS_PER_PAGE = 25;

export function renderDocument(main, { id }) {
  const parts = {
    head: h("div", { class: "page-head doc-head" }),
    actions: h("div", { class: "actions" }),
    status: h("div", { class: "doc-status" }),
    metadata: h("section", { class: "card", "aria-labelledby": "h-metadata" }),
    preview: h("section", { class: "card", "aria-labelledby": "h-preview" }),
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
    h("div", { class: "doc-grid" }, h("div", { class: "doc-main" }, parts.metadata, parts.records), h("div", { class: "doc-side" }, parts.preview, parts.timeline)),
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
      const recordsBusy = doc.records && !RECORD_FINAL.includes(doc.records.state);
      if (rows && doc.records && !changed) rows.progress(doc.records);
      return { again: !isFinal(doc.status) || Boolean(recordsBusy) || hasPendingReprocess(doc), changed };
    },
    { min: 1000, max: 15000 },
  );

  function draw() {
    replace(parts.head, h("h1", { class: "doc-title" }, doc.filename));
    replace(
      parts.status,
      badge(doc.status),
      h("span", { class: "muted" }, ` Uploaded `, h("time", { datetime: doc.created_at }, when(doc.created_at)), ` · updated `, h("time", { datetime: doc.updated_at }, when(doc.updated_at))),
      doc.error ? h("div", { class: "notice notice-error failure", role: "alert" }, h("strong", {}, "Processing failed: "), doc.error.message || "", " ", h("code", {}, doc.error.code || "")) : null,
      doc.warnings && doc.warnings.length
        ? h("div", { class: "notice notice-warning" }, h("strong", {}, "Warnings"), h("ul", {}, doc.warnings.map((w) => h("li", {}, w))))
        : null,
    );
    drawActions();
    drawMetadata(parts.metadata, doc);
    drawTimeline(parts.timeline, doc);
    if (doc.status === "PROCESSED" && previewShownFor !== doc.updated_at) {
      previewShownFor = doc.updated_at;
      drawPreview(parts.preview, doc);
    } else if (doc.status !== "PROCESSED") {
      previewShownFor = null;
      replace(parts.preview, h("h2", { id: "h-preview" }, "Preview"), notice(doc.status === "FAILED" ? "No preview: processing failed." : "The preview appears once the document is processed."));
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
      const { url } = await api.download(id);
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
  return meta.mime_type === "text/csv" || meta.family === "tabular" || meta.family === "csv";
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
      ? h("details", { class: "fold" }, h("summary", {}, `Details (${Object.keys(meta.details).length} fields)`), nested(meta.details, 0))
      : null,
    h("details", { class: "fold" }, h("summary", {}, "File"), definitionList(file, "file")),
  );
}

function field(key, v) {
  if (BYTE_FIELDS.has(key) && typeof v === "number") return v < 1024 ? bytes(v) : `${bytes(v)} (${count(v)} bytes)`;
  if (DATE_FIELDS.has(key) && typeof v === "string") return h("time", { datetime: v, title: v }, when(v));
  if (key === "sha256") return h("code", { class: "hash" }, String(v));
  if (key === "gps_latitude" || key === "gps_longitude") return value(v);
  if (Array.isArray(v) || (v && typeof v === "object")) return nested(v, 0);
  return value(v);
}

function definitionList(entries, name) {
  return h("dl", { class: "meta", dataset: { list: name } }, entries.map(([k, v]) => h("div", { class: "meta-row" }, h("dt", {}, k), h("dd", {}, v))));
}

/** Nested objects and arrays as nested lists, bounded in depth. */
function nested(v, depth) {
  if (v === null || typeof v !== "object") return value(v);
  if (depth >= MAX_DEPTH) return JSON.stringify(v).slice(0, 500);
  if (Array.isArray(v)) {
    if (v.every((x) => x === null || typeof x !== "object")) return value(v);
    return h("ol", { class: "nested" }, v.map((x) => h("li", {}, nested(x, depth + 1))));
  }
  return h("dl", { class: "meta nested" }, Object.entries(v).map(([k, x]) => h("div", { class: "meta-row" }, h("dt", {}, label(k)), h("dd", {}, nested(x, depth + 1)))));
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
              h("time", { datetime: e.at || "" }, when(e.at)),
              h("span", { class: "event" }, label(e.event || "event")),
              extra.length ? h("span", { class: "muted small" }, extra.map(([k, x]) => `${label(k)}: ${value(x)}`).join(" · ")) : null,
            );
          }),
        )
      : notice("Nothing has happened yet."),
  );
}

async function drawPreview(section, doc) {
  replace(section, h("h2", { id: "h-preview" }, "Preview"), h("p", { class: "muted" }, "Loading the preview…"));
  try {
    const { url } = await api.preview(doc.id);
    const response = await fetch(new URL(url).href, { credentials: "omit", cache: "no-store" });
    if (!response.ok) throw new Error(`The preview could not be fetched (${response.status}).`);
    const html = await response.text();
    if (html.length > MAX_PREVIEW_CHARS) throw new Error("The preview is too large to show.");
    // sandbox="" : no scripts, no same-origin, no forms, no navigation of this page.
    const frame = h("iframe", { class: "preview", sandbox: "", title: `Preview of ${doc.filename}`, referrerpolicy: "no-referrer", srcdoc: html });
    replace(section, h("h2", { id: "h-preview" }, "Preview"), frame);
  } catch (error) {
    const missing = error.status === 404;
    replace(section, h("h2", { id: "h-preview" }, "Preview"), missing ? notice("This document has no preview.") : errorBox(error));
  }
}

/** CSV rows with paging and ingest progress; degrades to a note where the API has no rows route. */
function recordsTable(section, doc) {
  const bar = h("progress", { id: "records-progress", "aria-labelledby": "records-progress-label" });
  const text = h("span", { id: "records-progress-label" });
  const stateBadge = h("span", {});
  const region = h("div", { class: "table-region", "aria-live": "polite" });
  const cursors = [null];
  let next = null;
  let loadedOnce = false;

  replace(section, h("h2", { id: "h-records" }, "Rows"), h("div", { class: "records-progress" }, stateBadge, bar, text), region);

  async function load() {
    try {
      const page = await api.records(doc.id, { limit: ROWS_PER_PAGE, next: cursors[cursors.length - 1] });
      next = page.next;
      loadedOnce = true;
      draw(page.items || []);
      if (page.records) show(page.records);
    } catch (error) {
      if (error.status === 404 && error.code !== "no_records") {
        replace(region, notice("Rows cannot be listed by this version of the API."));
      } else {
        replace(region, errorBox(error, "The rows could not be loaded."));
      }
    }
  }

  function draw(items) {
    if (!items.length) {
      replace(region, notice(cursors.length > 1 ? "No more rows." : "No rows stored yet."));
      return;
    }
    // The CSV's own column order (metadata.columns), then anything else the rows carry.
    const declared = Array.isArray((doc.metadata || {}).columns) ? doc.metadata.columns.map(String) : [];
    const columns = [...declared];
    for (const item of items) for (const key of Object.keys(item.cells || {})) if (!columns.includes(key)) columns.push(key);
    replace(
      region,
      h(
        "div",
        { class: "scroll-x", tabindex: "0", role: "region", "aria-label": "Rows of this CSV" },
        h(
          "table",
          { class: "rows" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "#"), columns.map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, items.map((item) => h("tr", {}, h("th", { scope: "row", class: "num" }, count(item.row)), columns.map((c) => h("td", {}, value(item.cells ? item.cells[c] : null)))))),
        ),
      ),
      pager({
        page: cursors.length,
        hasPrevious: cursors.length > 1,
        hasNext: Boolean(next),
        label: "Row pages",
        onPrevious: () => {
          cursors.pop();
          load();
        },
        onNext: () => {
          cursors.push(next);
          load();
        },
      }),
    );
  }

  let lastState = null;
  function show(records) {
    if (!records) {
      replace(stateBadge);
      replace(text, "Rows have not been queued yet.");
      bar.removeAttribute("value");
      return;
    }
    replace(stateBadge, recordsBadge(records.state));
    const done = (records.written || 0) + (records.failed || 0);
    if (typeof records.total === "number" && records.total > 0) {
      bar.max = records.total;
      bar.value = Math.min(done, records.total);
      replace(text, `${count(records.written || 0)} of ${count(records.total)} rows stored${records.failed ? `, ${count(records.failed)} rejected` : ""}`);
    } else {
      bar.removeAttribute("value");
      replace(text, `${count(records.written || 0)} rows stored so far${records.failed ? `, ${count(records.failed)} rejected` : ""}`);
    }
  }

  /** Fresh progress from the document: show it; reload the first page while rows arrive, and once at the end. */
  function progress(records) {
    show(records);
    if (!records || cursors.length !== 1) return;
    if (!loadedOnce || records.state !== lastState || !RECORD_FINAL.includes(records.state)) {
      lastState = records.state;
      load();
    }
  }

  return { progress };
}
