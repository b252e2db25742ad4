// Building the page from data without ever parsing data as HTML.
// Every value shown comes from files or users: text goes in as text nodes,
// attributes through setAttribute, URLs only after `safeUrl` checked them.

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "max", "srcdoc"]);

/** Create an element: h("a", {href: "#/x", class: "link"}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    setAttr(el, name, value);
  }
  append(el, children);
  return el;
}

/** The same for SVG elements. */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined && value !== false) el.setAttribute(name, String(value));
  }
  append(el, children);
  return el;
}

function setAttr(el, name, value) {
  if (value === null || value === undefined || value === false) return;
  if (name.startsWith("on")) {
    if (typeof value !== "function") throw new TypeError(`event handler ${name} must be a function`);
    el.addEventListener(name.slice(2), value);
  } else if (name === "class") {
    el.className = value;
  } else if (name === "dataset") {
    Object.assign(el.dataset, value);
  } else if (name === "href" || name === "src") {
    el.setAttribute(name, safeUrl(value));
  } else if (PROPERTIES.has(name)) {
    el[name] = value;
  } else {
    el.setAttribute(name, value === true ? "" : String(value));
  }
}

/** Append strings (as text), numbers, nodes, and arrays of them; null and false are skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace all children of `parent`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Only in-app hash links, same-origin paths and http(s) URLs: never javascript: or data:. */
export function safeUrl(raw) {
  const text = String(raw);
  if (text.startsWith("#")) return text;
  const url = new URL(text, window.location.href);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`refusing a ${url.protocol} URL`);
  }
  return url.href;
}

/** Say something to screen readers (a polite live region). */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}
