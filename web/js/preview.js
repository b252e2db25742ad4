// The document's content shown inline: what its rendition holds (a thumbnail, the text, the first
// rows, an archive's listing, an e-mail's headers and body, an office document's text), rebuilt here,
// and a link to the whole extracted text.
//
// The rendition is docpipe's inert HTML page for the document (GET /documents/{id}/preview gives a
// short-lived link to it). It is parsed with DOMParser, which runs nothing and loads nothing, and only
// its "Preview" section is read, block by block, into new elements made with the DOM API: text as
// text, tables as tables, and images only when they are data: PNG, JPEG, GIF or WebP. No markup from
// the file ever reaches this page as markup. The page itself stays available for sharing.

import { api, carried } from "./api.js";
import { h, replace } from "./dom.js";
import { errorBox, notice } from "./ui.js";

const MAX_PAGE_CHARS = 4 * 1024 * 1024;
const MAX_ROWS = 12; // a look at the content; a CSV's stored rows have their own card
const MAX_ITEMS = 500;
const IMAGE = /^data:image\/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*$/;

/** Fill `section` with the document's content; `heading` is kept at the top. */
export async function drawPreview(section, heading, doc) {
  replace(section, heading, h("p", { class: "muted" }, "Loading the preview…"));
  let link;
  try {
    link = carried(doc, "preview") || (await api.preview(doc.id));
    const response = await fetch(new URL(link.url).href, { credentials: "omit", cache: "no-store" });
    if (!response.ok) throw new Error(`The preview could not be fetched (${response.status}).`);
    const html = await response.text();
    if (html.length > MAX_PAGE_CHARS) throw new Error("The preview is too large to show.");
    // The page's own <style> is not wanted here, and Chromium reports it against this page's CSP even unrendered.
    const unstyled = html.replace(/<style\b[^>]*>[\s\S]*?<\/style\s*>/gi, "");
    const blocks = previewBlocks(new DOMParser().parseFromString(unstyled, "text/html"));
    replace(
      section,
      heading,
      blocks.length ? h("div", { class: "preview-body", id: "preview-body" }, blocks) : notice("There is nothing to show for this file beyond its metadata."),
      await fullText(doc),
      h("p", { class: "small muted share" }, h("a", { href: link.url, target: "_blank", rel: "noopener noreferrer", id: "preview-page" }, "Open the preview page"), " (a link for sharing, valid for 5 minutes)"),
    );
  } catch (error) {
    const missing = error.status === 404;
    replace(section, heading, missing ? notice("This document has no preview.") : errorBox(error));
  }
}

/** A link to the document's whole plain text (GET /documents/{id}/text), when docpipe extracted some. */
async function fullText(doc) {
  const details = (doc.metadata || {}).details || {};
  if (!details.text || typeof details.text !== "object") return null;
  try {
    const text = carried(doc, "text") || (await api.text(doc.id));
    const facts = [
      typeof text.word_count === "number" ? `${text.word_count.toLocaleString()} words` : null,
      text.language ? `language ${text.language}` : null,
      text.truncated ? "cut off at the size limit" : null,
    ].filter(Boolean);
    return h(
      "p",
      { class: "small full-text" },
      h("a", { href: text.url, target: "_blank", rel: "noopener noreferrer", id: "full-text" }, "Read the whole text"),
      facts.length ? ` (${facts.join(", ")})` : null,
    );
  } catch {
    return null; // the preview stands on its own
  }
}

/** The rendition's "Preview" section, rebuilt as safe elements. */
export function previewBlocks(parsed) {
  const headings = [...parsed.querySelectorAll("main > h2, body > h2, h2")];
  const start = headings.find((el) => el.textContent.trim() === "Preview");
  if (!start) return [];
  const blocks = [];
  for (let el = start.nextElementSibling; el && el.tagName !== "H2"; el = el.nextElementSibling) {
    const block = rebuild(el, 0);
    if (block) blocks.push(block);
  }
  return blocks;
}

function rebuild(el, depth) {
  if (depth > 6) return null;
  const tag = el.tagName;
  if (tag === "SECTION" || tag === "DIV") {
    const children = [...el.children].map((c) => rebuild(c, depth + 1)).filter(Boolean);
    return children.length ? h("div", { class: tag === "SECTION" ? "preview-block" : "scroll-x" }, children) : null;
  }
  if (tag === "H3") return h("h3", {}, el.textContent);
  if (tag === "P") return h("p", { class: el.classList.contains("note") ? "muted small" : null }, el.textContent);
  if (tag === "PRE") return h("pre", { class: "preview-text" }, el.textContent);
  if (tag === "UL" || tag === "OL") {
    const items = [...el.children].filter((c) => c.tagName === "LI").slice(0, MAX_ITEMS);
    return h(tag.toLowerCase(), { class: "preview-list" }, items.map((li) => h("li", {}, li.textContent)));
  }
  if (tag === "DL") {
    const rows = [];
    for (const dt of el.querySelectorAll(":scope > dt")) {
      const dd = dt.nextElementSibling && dt.nextElementSibling.tagName === "DD" ? dt.nextElementSibling : null;
      rows.push(h("div", { class: "meta-row" }, h("dt", {}, dt.textContent), h("dd", {}, dd ? dd.textContent : "")));
    }
    return h("dl", { class: "meta" }, rows);
  }
  if (tag === "TABLE") return table(el);
  if (tag === "IMG") return image(el);
  return null;
}

function table(el) {
  const head = [...el.querySelectorAll(":scope > thead > tr > th")].map((th) => th.textContent);
  const all = [...el.querySelectorAll(":scope > tbody > tr")];
  const body = all.slice(0, MAX_ROWS);
  const grid = h(
    "table",
    { class: "rows preview-table" },
    head.length ? h("thead", {}, h("tr", {}, head.map((t) => h("th", { scope: "col", title: t }, t)))) : null,
    h("tbody", {}, body.map((tr) => h("tr", {}, [...tr.children].map((cell) => h("td", { title: cell.textContent }, cell.textContent))))),
  );
  const rest = all.length - body.length;
  return rest > 0 ? h("div", {}, grid, h("p", { class: "small muted" }, `${body.length} rows shown here, ${rest} more on the preview page.`)) : grid;
}

function image(el) {
  const src = el.getAttribute("src") || "";
  if (!IMAGE.test(src)) return null;
  const width = Number(el.getAttribute("width")) || null;
  const height = Number(el.getAttribute("height")) || null;
  // Set through the DOM, never parsed: only a data: image of the kinds above gets here.
  const img = document.createElement("img");
  img.className = "preview-image";
  img.alt = el.getAttribute("alt") || "Thumbnail";
  if (width && height) {
    img.width = width;
    img.height = height;
  }
  img.src = src;
  return img;
}
