// A CSV's rows as docpipe stored them: ingest progress, the rows page by page (a table that
// scrolls sideways, columns sized to be read), the rejected rows and why, and an export of every
// stored row as a CSV file.

import { api } from "./api.js";
import { announce, h, replace } from "./dom.js";
import { count, RECORD_FINAL, value } from "./format.js";
import { errorBox, notice, pager, recordsBadge } from "./ui.js";

const ROWS_PER_PAGE = 25;
const EXPORT_PAGE = 100;

/** The rows card of a CSV document; returns {progress(records)} to feed it fresh ingest progress. */
export function recordsTable(section, doc) {
  const bar = h("progress", { id: "records-progress", "aria-labelledby": "records-progress-label" });
  const text = h("span", { id: "records-progress-label" });
  const stateBadge = h("span", {});
  const region = h("div", { class: "table-region", "aria-live": "polite" });
  const exportButton = h("button", { type: "button", class: "secondary", id: "export-rows", onclick: () => exportRows(doc, exportButton, exportNote) }, "Export rows as CSV");
  const exportNote = h("span", { class: "small muted", id: "export-note", role: "status" });
  const rejected = h("section", { class: "rejected", id: "rejected", "aria-labelledby": "h-rejected", hidden: true });
  const cursors = [null];
  let next = null;
  let loadedOnce = false;

  replace(
    section,
    h("h2", { id: "h-records" }, "Rows"),
    h("div", { class: "records-progress" }, stateBadge, bar, text),
    region,
    h("div", { class: "actions" }, exportButton, exportNote),
    rejected,
  );

  async function load() {
    try {
      const page = await api.records(doc.id, { limit: ROWS_PER_PAGE, next: cursors[cursors.length - 1] });
      next = page.next;
      loadedOnce = true;
      draw(page.items || []);
      if (page.records) show(page.records);
    } catch (error) {
      replace(region, errorBox(error, "The rows could not be loaded."));
    }
  }

  function draw(items) {
    if (!items.length) {
      replace(region, notice(cursors.length > 1 ? "No more rows." : "No rows stored yet."));
      return;
    }
    const columns = columnsOf(doc, items);
    replace(
      region,
      h(
        "div",
        { class: "scroll-x", tabindex: "0", role: "region", "aria-label": "Rows of this CSV (scrolls sideways)" },
        h(
          "table",
          { class: "rows" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col", class: "num" }, "#"), columns.map((c) => h("th", { scope: "col", title: c }, c)))),
          h(
            "tbody",
            {},
            items.map((item) =>
              h(
                "tr",
                {},
                h("th", { scope: "row", class: "num" }, count(item.row)),
                columns.map((c) => {
                  const shown = value(item.cells ? item.cells[c] : null);
                  return h("td", { title: shown }, shown);
                }),
              ),
            ),
          ),
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
  let errorsShownFor = -1;
  function show(records) {
    if (!records) {
      replace(stateBadge);
      replace(text, "Rows have not been queued yet.");
      bar.removeAttribute("value");
      return;
    }
    replace(stateBadge, recordsBadge(records.state));
    const done = (records.written || 0) + (records.failed || 0);
    const rejectedText = records.failed ? `, ${count(records.failed)} rejected` : "";
    if (typeof records.total === "number" && records.total > 0) {
      bar.max = records.total;
      bar.value = Math.min(done, records.total);
      replace(text, `${count(records.written || 0)} of ${count(records.total)} rows stored${rejectedText}`);
    } else {
      bar.removeAttribute("value");
      replace(text, `${count(records.written || 0)} rows stored so far${rejectedText}`);
    }
    if ((records.failed || 0) > 0 && records.failed !== errorsShownFor) {
      errorsShownFor = records.failed;
      rejectedRows(rejected, doc);
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

/** The CSV's own column order (metadata.columns), then anything else the rows carry. */
function columnsOf(doc, items) {
  const declared = Array.isArray((doc.metadata || {}).columns) ? doc.metadata.columns.map(String) : [];
  const columns = [...declared];
  for (const item of items) for (const key of Object.keys(item.cells || {})) if (!columns.includes(key)) columns.push(key);
  return columns;
}

/** The rejected rows: which row, which line of the file, and why; paged. */
function rejectedRows(section, doc) {
  section.hidden = false;
  const region = h("div", { "aria-live": "polite" });
  const cursors = [null];
  replace(section, h("h3", { id: "h-rejected" }, "Rejected rows"), h("p", { class: "small muted" }, "These rows were not stored. The line is where the row starts in the file."), region);

  async function load() {
    try {
      const page = await api.recordErrors(doc.id, { limit: ROWS_PER_PAGE, next: cursors[cursors.length - 1] });
      const items = page.items || [];
      replace(
        region,
        items.length
          ? h(
              "div",
              { class: "scroll-x" },
              h(
                "table",
                { class: "rows errors", id: "rejected-rows" },
                h("thead", {}, h("tr", {}, ["Row", "Line", "Why"].map((t) => h("th", { scope: "col" }, t)))),
                h("tbody", {}, items.map((e) => h("tr", {}, h("td", { class: "num" }, count(e.row)), h("td", { class: "num" }, count(e.line)), h("td", { class: "reason" }, e.reason)))),
              ),
            )
          : notice("No rejected rows."),
        pager({
          page: cursors.length,
          hasPrevious: cursors.length > 1,
          hasNext: Boolean(page.next),
          label: "Rejected row pages",
          onPrevious: () => {
            cursors.pop();
            load();
          },
          onNext: () => {
            cursors.push(page.next);
            load();
          },
        }),
      );
    } catch (error) {
      replace(region, errorBox(error, "The rejected rows could not be loaded."));
    }
  }
  load();
}

/** Every stored row, page after page, into one CSV file the browser saves. */
async function exportRows(doc, button, note) {
  button.disabled = true;
  const lines = [];
  let columns = Array.isArray((doc.metadata || {}).columns) ? doc.metadata.columns.map(String) : null;
  let next = null;
  let rows = 0;
  try {
    do {
      const page = await api.records(doc.id, { limit: EXPORT_PAGE, next });
      const items = page.items || [];
      if (!columns) columns = columnsOf(doc, items);
      for (const item of items) lines.push(columns.map((c) => csvCell(item.cells ? item.cells[c] : null)).join(","));
      rows += items.length;
      replace(note, `${count(rows)} rows read…`);
      next = page.next;
    } while (next);
    const header = (columns || []).map(csvCell).join(",");
    const blob = new Blob([[header, ...lines].join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = `${doc.filename.replace(/\.[^.]*$/, "") || "rows"} (stored rows).csv`;
    document.body.append(link);
    link.click();
    link.remove();
    window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
    replace(note, `${count(rows)} rows exported.`);
    announce(`${rows} rows exported`);
  } catch (error) {
    replace(note, errorBox(error, "The export stopped:"));
  } finally {
    button.disabled = false;
  }
}

/** RFC 4180: quoted when it holds a comma, a quote or a line break; otherwise exactly as stored. */
export function csvCell(raw) {
  if (raw === null || raw === undefined) return "";
  const text = typeof raw === "string" ? raw : JSON.stringify(raw);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
