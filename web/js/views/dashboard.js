// Counts by status and by type, drawn as charts (with the numbers as a table
// for screen readers and for anyone who would rather read).

import { api } from "../api.js";
import { h, replace, svg } from "../dom.js";
import { count, STATUSES } from "../format.js";
import { poller } from "../poll.js";
import { errorBox, notice } from "../ui.js";

const STATUS_CLASS = { PENDING: "pending", PROCESSING: "processing", PROCESSED: "processed", FAILED: "failed" };

export function renderDashboard(main) {
  const body = h("div", { class: "dashboard", "aria-busy": "true" });
  replace(main, h("div", { class: "page-head" }, h("h1", {}, "Dashboard")), body);

  let last = "";
  const live = poller(
    async () => {
      let stats;
      try {
        stats = await api.stats();
      } catch (error) {
        replace(body, errorBox(error, "The figures could not be loaded."));
        throw error;
      }
      const key = JSON.stringify(stats);
      const changed = key !== last;
      last = key;
      if (changed) draw(body, stats);
      const busy = (stats.by_status.PENDING || 0) + (stats.by_status.PROCESSING || 0) > 0;
      return { again: busy, changed };
    },
    { min: 2000, max: 30000 },
  );
  live.now();
  return () => live.stop();
}

function draw(body, stats) {
  body.setAttribute("aria-busy", "false");
  const byStatus = STATUSES.map((s) => [s, stats.by_status[s] || 0]);
  const byFamily = Object.entries(stats.by_family || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const scope = stats.scope === "everyone" ? "every user's documents" : "your documents";
  replace(
    body,
    h(
      "div",
      { class: "tiles" },
      h("div", { class: "tile" }, h("span", { class: "tile-number", id: "total" }, count(stats.total)), h("span", { class: "tile-label" }, `documents in total, ${scope}`)),
      byStatus.map(([s, n]) =>
        h("a", { class: `tile tile-${STATUS_CLASS[s]}`, href: `#/documents?status=${s}` }, h("span", { class: "tile-number" }, count(n)), h("span", { class: "tile-label" }, words(s))),
      ),
    ),
    stats.total
      ? h(
          "div",
          { class: "charts" },
          chart("By status", "Status", "chart-status", donut(byStatus), byStatus, (s) => `#/documents?status=${s}`),
          chart("By type", "Type", "chart-family", bars(byFamily), byFamily, (f) => `#/documents?family=${encodeURIComponent(f)}`),
        )
      : notice("No documents yet: the charts appear after your first upload."),
  );
}

function words(status) {
  return status.charAt(0) + status.slice(1).toLowerCase();
}

function chart(title, column, id, picture, rows, link) {
  return h(
    "section",
    { class: "card chart", "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title),
    picture,
    h(
      "table",
      { class: "chart-table", id },
      h("caption", { class: "visually-hidden" }, `Documents ${title.toLowerCase()}`),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, column), h("th", { scope: "col", class: "num" }, "Documents"))),
      h("tbody", {}, rows.map(([name, n]) => h("tr", { dataset: { key: name } }, h("th", { scope: "row" }, STATUS_CLASS[name] ? h("span", { class: `swatch swatch-${STATUS_CLASS[name]}`, "aria-hidden": "true" }) : null, h("a", { href: link(name) }, STATUS_CLASS[name] ? words(name) : name)), h("td", { class: "num" }, count(n))))),
    ),
  );
}

/** A donut of the statuses; decorative (aria-hidden): the table beside it carries the numbers. */
function donut(entries) {
  const total = entries.reduce((sum, [, n]) => sum + n, 0) || 1;
  const radius = 40;
  const circumference = 2 * Math.PI * radius;
  let offset = 0;
  const arcs = entries
    .filter(([, n]) => n > 0)
    .map(([status, n]) => {
      const length = (n / total) * circumference;
      const arc = svg("circle", {
        class: `arc arc-${STATUS_CLASS[status]}`,
        cx: 60, cy: 60, r: radius, fill: "none", "stroke-width": 18,
        "stroke-dasharray": `${length} ${circumference - length}`,
        "stroke-dashoffset": -offset,
        transform: "rotate(-90 60 60)",
      });
      offset += length;
      return arc;
    });
  return svg(
    "svg",
    { viewBox: "0 0 120 120", class: "donut", "aria-hidden": "true", focusable: "false" },
    svg("circle", { cx: 60, cy: 60, r: radius, fill: "none", class: "arc-track", "stroke-width": 18 }),
    arcs,
    svg("text", { x: 60, y: 66, "text-anchor": "middle", class: "donut-total" }, count(total)),
  );
}

/** Horizontal bars, one per family, scaled to the largest. */
function bars(entries) {
  const top = Math.max(1, ...entries.map(([, n]) => n));
  return h(
    "div",
    { class: "bars", "aria-hidden": "true" },
    entries.map(([name, n]) => {
      const fill = h("span", { class: "bar-fill" });
      fill.style.width = `${Math.max(2, (n / top) * 100)}%`;
      return h("div", { class: "bar" }, h("span", { class: "bar-label" }, name), h("span", { class: "bar-track" }, fill), h("span", { class: "bar-value" }, count(n)));
    }),
  );
}
