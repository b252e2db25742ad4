// Backfills (administrators): start one, follow every run's progress, stop a run.
// A run indexes objects that have no document and/or extracts stale documents again;
// the API does the work (POST/GET/DELETE /admin/backfills), this view only asks and shows.

import { api } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { count, when } from "../format.js";
import { poller } from "../poll.js";
import { errorBox, notice } from "../ui.js";

const ACTIVE = ["PLANNING", "RUNNING"];
const STATUS_KIND = { PLANNING: "pending", RUNNING: "processing", SUCCEEDED: "processed", FAILED: "failed", STOPPED: "warning" };
const COUNTS = ["listed", "queued", "processed", "failed", "skipped"];

export function renderBackfills(main, { session }) {
  if (!session.groups.includes("admins")) {
    replace(main, h("div", { class: "page-head" }, h("h1", {}, "Backfills")), notice("Only administrators run backfills.", "error"));
    return null;
  }
  const region = h("div", { class: "table-region", "aria-live": "polite", "aria-busy": "true" });
  const message = h("div", { role: "status" });
  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Backfills")), startForm(message, () => live.now()), message, region);

  const known = new Map(); // id -> status last shown, to announce endings
  const live = poller(
    async () => {
      let page;
      try {
        page = await api.backfills({ limit: 25 });
      } catch (error) {
        replace(region, errorBox(error, "The backfills could not be loaded."));
        throw error;
      }
      for (const run of page.items) {
        const before = known.get(run.id);
        if (before && before !== run.status && !ACTIVE.includes(run.status)) announce(`Backfill ${run.id.slice(0, 8)}: ${run.status}`);
        known.set(run.id, run.status);
      }
      region.setAttribute("aria-busy", "false");
      replace(region, page.items.length ? table(page.items, stop) : notice("No backfill has run yet."));
      return { again: page.items.some((run) => ACTIVE.includes(run.status)), changed: true };
    },
    { min: 1500, max: 15000 },
  );

  async function stop(run, button) {
    button.disabled = true;
    try {
      await api.stopBackfill(run.id);
      replace(message, notice(`Backfill ${run.id.slice(0, 8)} stopped: nothing more is handed over; items in progress finish.`));
    } catch (error) {
      replace(message, errorBox(error, "The backfill could not be stopped."));
    }
    live.now();
  }

  live.now();
  return () => live.stop();
}

function startForm(message, started) {
  const field = (id, text, input) => h("div", { class: "field" }, h("label", { for: id }, text), input);
  const missing = h("input", { id: "bf-missing", type: "checkbox", checked: true });
  const prefix = h("input", { id: "bf-prefix", type: "text", value: "uploads/", required: true, autocomplete: "off", spellcheck: "false" });
  const stale = h("input", { id: "bf-stale", type: "checkbox" });
  const family = h("input", { id: "bf-family", type: "text", placeholder: "any", pattern: "[a-z_]{1,32}", autocomplete: "off" });
  const status = h("select", { id: "bf-status" }, h("option", { value: "" }, "Processed or failed"), h("option", { value: "PROCESSED" }, "Processed"), h("option", { value: "FAILED" }, "Failed"));
  const from = h("input", { id: "bf-from", type: "date" });
  const to = h("input", { id: "bf-to", type: "date" });
  const concurrency = h("input", { id: "bf-concurrency", type: "number", min: "1", max: "100", value: "4" });
  const submit = h("button", { type: "submit" }, "Start backfill");

  async function onsubmit(event) {
    event.preventDefault();
    const body = { max_concurrency: Number(concurrency.value) };
    if (missing.checked) body.missing = { prefix: prefix.value };
    if (stale.checked) {
      body.stale = {};
      if (family.value) body.stale.family = family.value;
      if (status.value) body.stale.status = status.value;
      if (from.value) body.stale.created_from = from.value;
      if (to.value) body.stale.created_to = to.value;
    }
    if (!body.missing && !body.stale) {
      replace(message, errorBox(new Error("Choose objects without a document, stale documents, or both.")));
      return;
    }
    submit.disabled = true;
    try {
      const run = await api.startBackfill(body);
      replace(message, notice(`Backfill ${run.id.slice(0, 8)} started.`));
      started();
    } catch (error) {
      replace(message, errorBox(error, "The backfill could not start:"));
    } finally {
      submit.disabled = false;
    }
  }

  return h(
    "form",
    { class: "toolbar backfill-form", "aria-label": "Start a backfill", onsubmit },
    h("fieldset", {}, h("legend", {}, "Objects without a document"), h("div", { class: "field check" }, missing, h("label", { for: "bf-missing" }, "Index them")), field("bf-prefix", "Under the prefix", prefix)),
    h(
      "fieldset",
      {},
      h("legend", {}, "Documents extracted by an older extractor"),
      h("div", { class: "field check" }, stale, h("label", { for: "bf-stale" }, "Extract them again")),
      field("bf-family", "Type", family),
      field("bf-status", "Status", status),
      field("bf-from", "Created from", from),
      field("bf-to", "Created to", to),
    ),
    field("bf-concurrency", "Batches at once", concurrency),
    h("div", { class: "field" }, submit),
  );
}

function table(runs, stop) {
  return h(
    "table",
    { class: "docs responsive backfills" },
    h("thead", {}, h("tr", {}, ["Run", "Status", "Selection", "Progress", "Started", ""].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, runs.map((run) => row(run, stop))),
  );
}

function row(run, stop) {
  const p = run.progress || {};
  const done = (p.processed || 0) + (p.failed || 0) + (p.skipped || 0);
  const button = ACTIVE.includes(run.status) ? h("button", { type: "button", class: "secondary", onclick: () => stop(run, button) }, "Stop") : null;
  return h(
    "tr",
    { dataset: { run: run.id, status: run.status } },
    h("td", { "data-label": "Run" }, h("code", { title: run.id }, run.id.slice(0, 8))),
    h("td", { "data-label": "Status" }, h("span", { class: `badge badge-${STATUS_KIND[run.status] || "unknown"}` }, run.status)),
    h("td", { "data-label": "Selection" }, selection(run.selection || {})),
    h(
      "td",
      { "data-label": "Progress" },
      h("progress", { max: String(Math.max(p.listed || 0, 1)), value: String(done), "aria-label": `${done} of ${p.listed || 0} items done` }),
      h("div", { class: "backfill-counts" }, COUNTS.map((name) => h("span", { dataset: { count: name } }, `${name} ${count(p[name] || 0)}`))),
      skipped(run.skipped_by),
      run.error ? h("div", { class: "notice notice-error" }, run.error) : null,
    ),
    h("td", { "data-label": "Started" }, when(run.created_at), h("div", { class: "muted" }, run.created_by || ""), run.finished_at ? h("div", { class: "muted" }, `ended ${when(run.finished_at)}`) : null),
    h("td", {}, button),
  );
}

function selection(sel) {
  const parts = [];
  if (sel.missing) parts.push(`objects without a document under ${sel.missing.prefix}`);
  if (sel.stale) {
    const { below, ...filters } = sel.stale;
    const extra = Object.entries(filters).map(([k, v]) => `${k.replace("_", " ")} ${v}`);
    parts.push(`documents extracted before version ${below}${extra.length ? ` (${extra.join(", ")})` : ""}`);
  }
  return parts.join("; ");
}

function skipped(by) {
  const entries = Object.entries(by || {});
  if (!entries.length) return null;
  return h("div", { class: "muted" }, `skipped: ${entries.map(([k, v]) => `${k.replaceAll("_", " ")} ${count(v)}`).join(", ")}`);
}
