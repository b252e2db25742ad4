// The documents table: filters (status, family, name), paging, live status badges.

import { api } from "../api.js";
import { announce, h, replace } from "../dom.js";
import { bytes, isFinal, STATUSES, when } from "../format.js";
import { poller } from "../poll.js";
import { badge, errorBox, notice, pager } from "../ui.js";

const PAGE_SIZE = 20;

export function renderDocuments(main, { params, session }) {
  const admin = session.groups.includes("admins");
  const state = {
    status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
    family: /^[a-z_]{1,32}$/.test(params.get("family") || "") ? params.get("family") : "",
    name: (params.get("name") || "").slice(0, 255),
    everyone: admin && params.get("scope") === "everyone",
    cursors: [null], // cursor of each page visited; the last is the current page
    items: [],
    next: null,
  };
  const known = new Map(); // id -> status last shown, to announce changes

  const search = h("input", { id: "f-name", type: "search", value: state.name, placeholder: "Name starts with…", autocomplete: "off" });
  const status = h(
    "select",
    { id: "f-status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === state.status }, s.charAt(0) + s.slice(1).toLowerCase())),
  );
  const family = h("select", { id: "f-family" }, h("option", { value: "" }, "Any type"));
  const everyone = admin ? h("input", { id: "f-everyone", type: "checkbox", checked: state.everyone }) : null;
  const region = h("div", { class: "table-region", "aria-live": "polite", "aria-busy": "true" });

  const toolbar = h(
    "form",
    { class: "toolbar", role: "search", "aria-label": "Filter documents", onsubmit: (e) => e.preventDefault() },
    h("div", { class: "field" }, h("label", { for: "f-name" }, "Search by name"), search),
    h("div", { class: "field" }, h("label", { for: "f-status" }, "Status"), status),
    h("div", { class: "field" }, h("label", { for: "f-family" }, "Type"), family),
    everyone ? h("div", { class: "field check" }, everyone, h("label", { for: "f-everyone" }, "Everyone's documents")) : null,
  );

  replace(
    main,
    h("div", { class: "page-head" }, h("h1", {}, "Documents"), h("a", { class: "button", href: "#/upload" }, "Upload files")),
    toolbar,
    region,
  );

  fillFamilies(family, state.family);

  function query() {
    return {
      limit: PAGE_SIZE,
      next: state.cursors[state.cursors.length - 1],
      status: state.status,
      family: state.family,
      name: state.name,
    };
  }

  function syncHash() {
    const q = new URLSearchParams();
    if (state.status) q.set("status", state.status);
    if (state.family) q.set("family", state.family);
    if (state.name) q.set("name", state.name);
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
    draw();
    return { again: page.items.some((d) => !isFinal(d.status)), changed };
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

  function draw() {
    region.setAttribute("aria-busy", "false");
    if (!state.items.length) {
      const filtered = state.status || state.family || state.name;
      replace(
        region,
        notice(filtered ? "No document matches these filters." : "No documents yet."),
        filtered ? null : h("p", {}, h("a", { href: "#/upload" }, "Upload your first files"), "."),
      );
      return;
    }
    const rows = state.items.map((d) =>
      h(
        "tr",
        { dataset: { id: d.id } },
        h("th", { scope: "row", "data-label": "Name" }, h("a", { href: `#/documents/${d.id}`, class: "doc-link" }, d.filename)),
        h("td", { "data-label": "Status" }, badge(d.status), d.error ? h("span", { class: "muted small" }, ` ${d.error.code}`) : null),
        h("td", { "data-label": "Type" }, d.family || "—"),
        h("td", { "data-label": "Size", class: "num" }, bytes(d.size)),
        h("td", { "data-label": "Uploaded" }, h("time", { datetime: d.created_at }, when(d.created_at))),
      ),
    );
    replace(
      region,
      h(
        "table",
        { class: "docs responsive" },
        h("caption", { class: "visually-hidden" }, state.everyone ? "Every document" : "Your documents"),
        h("thead", {}, h("tr", {}, ["Name", "Status", "Type", "Size", "Uploaded"].map((t) => h("th", { scope: "col" }, t)))),
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
        onNext: () => {
          state.cursors.push(state.next);
          live.now();
        },
      }),
    );
  }

  let typing = null;
  search.addEventListener("input", () => {
    region.setAttribute("aria-busy", "true");
    window.clearTimeout(typing);
    typing = window.setTimeout(() => {
      state.name = search.value.trim().slice(0, 255);
      restart();
    }, 300);
  });
  status.addEventListener("change", () => {
    state.status = status.value;
    restart();
  });
  family.addEventListener("change", () => {
    state.family = family.value;
    restart();
  });
  if (everyone) {
    everyone.addEventListener("change", () => {
      state.everyone = everyone.checked;
      restart();
    });
  }

  live.now();
  return () => {
    window.clearTimeout(typing);
    live.stop();
  };
}

/** The family filter offers the families the caller actually has (from /stats). */
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
