// The documents table: search, filters (status, type, dates), sortable columns, paging,
// live status badges, and bulk actions on the selected rows.

import { api } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { bytes, isFinal, STATUSES, when } from "../format.js";
import { poller } from "../poll.js";
import { badge, errorBox, notice, pager, recordsBadge } from "../ui.js";

const PAGE_SIZE = 20;
const PARALLEL = 3;
const SORTS = {
  "-created": "Newest first",
  created: "Oldest first",
  name: "Name A–Z",
  "-name": "Name Z–A",
  "-size": "Largest first",
  size: "Smallest first",
  status: "Status",
};
const COLUMNS = [
  { key: "name", label: "Name", first: "name" },
  { key: "status", label: "Status", first: "status" },
  { key: null, label: "Type" },
  { key: "size", label: "Size", first: "-size", num: true },
  { key: "created", label: "Uploaded", first: "-created" },
];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function renderDocuments(main, { params, session }) {
  const admin = session.groups.includes("admins");
  const state = {
    q: (params.get("q") || "").slice(0, 100),
    status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
    family: /^[a-z_]{1,32}$/.test(params.get("family") || "") ? params.get("family") : "",
    from: DATE.test(params.get("from") || "") ? params.get("from") : "",
    to: DATE.test(params.get("to") || "") ? params.get("to") : "",
    sort: Object.hasOwn(SORTS, params.get("sort") || "") ? params.get("sort") : "-created",
    everyone: admin && params.get("scope") === "everyone",
    cursors: [null], // cursor of each page visited; the last is the current page
    items: [],
    next: null,
    sortedNewest: null,
  };
  const selected = new Map(); // id -> filename
  const known = new Map(); // id -> status last shown, to announce changes

  const search = h("input", { id: "f-q", type: "search", value: state.q, placeholder: "Name, title or author…", autocomplete: "off", maxlength: "100" });
  const status = h(
    "select",
    { id: "f-status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s.charAt(0) + s.slice(1).toLowerCase())),
  );
  const family = h("select", { id: "f-family" }, h("option", { value: "" }, "Any type"));
  const from = h("input", { id: "f-from", type: "date", value: state.from });
  const to = h("input", { id: "f-to", type: "date", value: state.to });
  const sortSelect = h("select", { id: "f-sort" }, Object.entries(SORTS).map(([k, v]) => h("option", { value: k, selected: k === state.sort }, v)));
  const everyone = admin ? h("input", { id: "f-everyone", type: "checkbox", checked: state.everyone }) : null;
  const region = h("div", { class: "table-region", "aria-live": "polite", "aria-busy": "true" });
  const bulk = h("div", { class: "bulk", id: "bulk", role: "region", "aria-label": "Selected documents", hidden: true });
  const message = h("div", { class: "action-message" });

  const toolbar = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": "Find documents", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field grow" }, h("label", { for: "f-q" }, "Search"), search),
    h("div", { class: "field" }, h("label", { for: "f-status" }, "Status"), status),
    h("div", { class: "field" }, h("label", { for: "f-family" }, "Type"), family),
    h("div", { class: "field" }, h("label", { for: "f-from" }, "Uploaded from"), from),
    h("div", { class: "field" }, h("label", { for: "f-to" }, "to"), to),
    h("div", { class: "field" }, h("label", { for: "f-sort" }, "Sort"), sortSelect),
    everyone ? h("div", { class: "field check" }, everyone, h("label", { for: "f-everyone" }, "Everyone's documents")) : null,
  );

  replace(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Documents"), h("a", { class: "button", href: "#/upload" }, "Upload files")),
    toolbar,
    message,
    bulk,
    region,
  );

  fillFamilies(family, state.family);

  function query() {
    return {
      limit: PAGE_SIZE,
      next: state.cursors[state.cursors.length - 1],
      q: state.q,
      status: state.status,
      family: state.family,
      created_from: state.from,
      created_to: state.to,
      sort: state.sort === "-created" ? "" : state.sort,
    };
  }

  function syncHash() {
    const q = new URLSearchParams();
    for (const key of ["q", "status", "family", "from", "to"]) if (state[key]) q.set(key, state[key]);
    if (state.sort !== "-created") q.set("sort", state.sort);
    if (state.everyone) q.set("scope", "everyone");
    const text = q.toString();
    history.replaceState(null, "", `#/documents${text ? `?${text}` : ""}`);
  }

  async function load() {
    const asked = JSON.stringify([query(), state.everyone]);
    const page = await api.listDocuments(query(), state.everyone);
    if (asked !== JSON.stringify([query(), state.everyone])) {
      return { again: true, changed: true }; // the filters changed meanwhile: this page is stale
    }
    let changed = false;
    for (const item of page.items) {
      const before = known.get(item.id);
      if (before && before !== item.status) {
        changed = true;
        announce(`${item.filename} is now ${item.status.toLowerCase()}`);
      }
      known.set(item.id, item.status);
    }
    state.items = page.items;
    state.next = page.next;
    state.sortedNewest = page.sorted_newest || null;
    draw();
    const busy = page.items.some((d) => !isFinal(d.status) || (d.records && !["COMPLETE", "COMPLETE_WITH_ERRORS", "FAILED"].includes(d.records.state)));
    return { again: busy, changed };
  }

  const live = poller(
    () =>
      load().catch((error) => {
        replace(region, errorBox(error, "The documents could not be loaded."));
        region.setAttribute("aria-busy", "false");
        throw error;
      }),
    { min: 1500, max: 20000 },
  );

  function restart() {
    state.cursors = [null];
    syncHash();
    region.setAttribute("aria-busy", "true");
    live.now();
  }

  function filtered() {
    return Boolean(state.q || state.status || state.family || state.from || state.to);
  }

  function draw() {
    region.setAttribute("aria-busy", "false");
    drawBulk();
    if (!state.items.length) {
      const more = state.next
        ? h("p", {}, h("button", { type: "button", class: "secondary", id: "search-older", onclick: nextPage }, "Search older documents"))
        : null;
      replace(
        region,
        notice(state.next ? "No match among the documents searched so far." : filtered() ? "No document matches these filters." : "No documents yet."),
        more,
        filtered() || state.next ? null : h("p", {}, h("a", { href: "#/upload" }, "Upload your first files"), "."),
      );
      return;
    }
    const all = h("input", {
      type: "checkbox",
      id: "select-all",
      "aria-label": "Select every document on this page",
      checked: state.items.every((d) => selected.has(d.id)),
      onchange: (e) => {
        for (const d of state.items) {
          if (e.target.checked) selected.set(d.id, d.filename);
          else selected.delete(d.id);
        }
        draw();
      },
    });
    const rows = state.items.map((d) =>
      h(
        "tr",
        { dataset: { id: d.id }, class: selected.has(d.id) ? "selected" : null },
        h(
          "td",
          { class: "pick" },
          h("input", {
            type: "checkbox",
            "aria-label": `Select ${d.filename}`,
            checked: selected.has(d.id),
            onchange: (e) => {
              if (e.target.checked) selected.set(d.id, d.filename);
              else selected.delete(d.id);
              draw();
            },
          }),
        ),
        h("th", { scope: "row", "data-label": "Name" }, h("a", { href: `#/documents/${d.id}`, class: "doc-link" }, d.filename)),
        h(
          "td",
          { "data-label": "Status" },
          h("span", { class: "states" }, badge(d.status), d.records ? recordsBadge(d.records.state) : null),
          d.error ? h("span", { class: "muted small" }, ` ${d.error.code}`) : null,
        ),
        h("td", { "data-label": "Type" }, d.family || "—"),
        h("td", { "data-label": "Size", class: "num" }, bytes(d.size)),
        h("td", { "data-label": "Uploaded" }, h("time", { datetime: d.created_at }, when(d.created_at))),
      ),
    );
    replace(
      region,
      state.sortedNewest
        ? notice(`Sorted among the newest ${state.sortedNewest.toLocaleString()} matching documents. Narrow the dates or filters to sort older ones.`)
        : null,
      h(
        "table",
        { class: "docs responsive" },
        h("caption", { class: "visually-hidden" }, `${state.everyone ? "Every document" : "Your documents"}, ${SORTS[state.sort].toLowerCase()}`),
        h("thead", {}, h("tr", {}, h("td", { class: "pick" }, all), COLUMNS.map(header))),
        h("tbody", {}, rows),
      ),
      pager({
        page: state.cursors.length,
        hasPrevious: state.cursors.length > 1,
        hasNext: Boolean(state.next),
        label: "Document pages",
        onPrevious: () => {
          state.cursors.pop();
          live.now();
        },
        onNext: nextPage,
      }),
    );
  }

  function nextPage() {
    state.cursors.push(state.next);
    region.setAttribute("aria-busy", "true");
    live.now();
  }

  function header(column) {
    if (!column.key) return h("th", { scope: "col" }, column.label);
    const active = state.sort.replace(/^-/, "") === column.key;
    const descending = state.sort.startsWith("-");
    const sortState = active ? (descending ? "descending" : "ascending") : null;
    return h(
      "th",
      { scope: "col", "aria-sort": sortState, class: column.num ? "num" : null },
      h(
        "button",
        {
          type: "button",
          class: "sort",
          dataset: { sort: column.key },
          onclick: () => {
            const next = active ? (descending ? column.key : `-${column.key}`) : column.first;
            state.sort = Object.hasOwn(SORTS, next) ? next : column.first;
            sortSelect.value = state.sort;
            restart();
          },
        },
        column.label,
        h("span", { class: "sort-mark", "aria-hidden": "true" }, active ? (descending ? " ▼" : " ▲") : " ↕"),
      ),
    );
  }

  function drawBulk() {
    if (!selected.size) {
      bulk.hidden = true;
      replace(bulk);
      return;
    }
    bulk.hidden = false;
    replace(
      bulk,
      h("span", { class: "bulk-count", id: "bulk-count" }, `${selected.size} selected`),
      h("button", { type: "button", class: "secondary", id: "bulk-download", onclick: () => act("download") }, "Download"),
      h("button", { type: "button", class: "secondary", id: "bulk-reprocess", onclick: () => act("reprocess") }, "Reprocess"),
      h("button", { type: "button", class: "danger", id: "bulk-delete", onclick: () => act("delete") }, "Delete"),
      h("button", { type: "button", class: "secondary", id: "bulk-clear", onclick: () => { selected.clear(); draw(); } }, "Clear"),
    );
  }

  async function act(kind) {
    const chosen = [...selected.entries()];
    if (kind === "delete" && !window.confirm(`Delete ${chosen.length} document${chosen.length === 1 ? "" : "s"}? Their files, previews and rows are removed for good.`)) return;
    for (const button of bulk.querySelectorAll("button")) button.disabled = true;
    replace(message, h("p", { role: "status" }, `Working on ${chosen.length} document${chosen.length === 1 ? "" : "s"}…`));
    const work = {
      delete: ([id]) => api.remove(id),
      reprocess: ([id]) => api.reprocess(id),
      download: ([id, name]) => api.download(id).then(({ url }) => save(url, name)),
    }[kind];
    const failures = await runAll(chosen, work, kind === "download" ? 1 : PARALLEL);
    const done = chosen.length - failures.length;
    const verb = { delete: "Deleted", reprocess: "Reprocessing requested for", download: "Downloading" }[kind];
    const summary = `${verb} ${done} of ${chosen.length}.`;
    announce(summary);
    replace(
      message,
      failures.length
        ? h("div", { class: "notice notice-error", role: "alert" }, summary, h("ul", {}, failures.map(([[, name], error]) => h("li", {}, `${name}: ${error.message}`))))
        : notice(summary, "success"),
    );
    for (const [id] of chosen) if (!failures.some(([[fid]]) => fid === id)) selected.delete(id);
    if (kind !== "download") state.cursors = [null];
    live.now();
  }

  let typing = null;
  search.addEventListener("input", () => {
    region.setAttribute("aria-busy", "true");
    window.clearTimeout(typing);
    typing = window.setTimeout(() => {
      state.q = search.value.trim().slice(0, 100);
      restart();
    }, 300);
  });
  const onChange = (input, key) =>
    input.addEventListener("change", () => {
      state[key] = input.value;
      restart();
    });
  onChange(status, "status");
  onChange(family, "family");
  onChange(from, "from");
  onChange(to, "to");
  onChange(sortSelect, "sort");
  if (everyone) {
    everyone.addEventListener("change", () => {
      state.everyone = everyone.checked;
      selected.clear();
      restart();
    });
  }

  live.now();
  return () => {
    window.clearTimeout(typing);
    live.stop();
  };
}

/** Run `work` over `items`, at most `parallel` at a time; resolves with [item, error] for each failure. */
async function runAll(items, work, parallel) {
  const failures = [];
  const queue = [...items];
  async function worker() {
    while (queue.length) {
      const item = queue.shift();
      try {
        await work(item);
      } catch (error) {
        failures.push([item, error]);
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return failures;
}

/** Start a browser download of a presigned URL (the response names the file); one at a time, spaced out. */
function save(url, filename) {
  const link = h("a", { href: url, rel: "noopener", download: filename, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  return new Promise((resolve) => window.setTimeout(resolve, 400));
}

/** The type filter offers the families the caller actually has (from /stats). */
async function fillFamilies(select, selected) {
  let families = [];
  try {
    families = Object.keys((await api.stats()).by_family || {}).sort();
  } catch {
    families = [];
  }
  if (selected && !families.includes(selected)) families.push(selected);
  for (const name of families) {
    if (/^[a-z_]{1,32}$/.test(name)) select.append(h("option", { value: name, selected: name === selected }, name));
  }
}
