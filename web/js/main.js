// The app shell: settings, the return from the hosted UI, sign-in gate, hash router, navigation and sign-out.
// Hash routes keep it deployable as plain static files (S3, CloudFront, Amplify).

import * as auth from "./auth.js";
import { config } from "./api.js";
import { h, replace } from "./dom.js";
import { settings } from "./settings.js";
import { errorBox } from "./ui.js";
import { renderLogin } from "./views/login.js";
import { renderDocuments } from "./views/documents.js";
import { renderDocument } from "./views/document.js";
import { renderUpload } from "./views/upload.js";
import { renderDashboard } from "./views/dashboard.js";
import { renderBackfills } from "./views/backfills.js";

const main = document.getElementById("main");
const topbar = document.getElementById("topbar");
let cleanup = null;

const ROUTES = [
  { pattern: /^\/documents\/([0-9a-f]{32})$/, nav: "documents", view: renderDocument, title: "Document" },
  { pattern: /^\/documents$/, nav: "documents", view: renderDocuments, title: "Documents" },
  { pattern: /^\/upload$/, nav: "upload", view: renderUpload, title: "Upload" },
  { pattern: /^\/dashboard$/, nav: "dashboard", view: renderDashboard, title: "Dashboard" },
  { pattern: /^\/backfills$/, nav: "backfills", view: renderBackfills, title: "Backfills" },
];

export function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/documents";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}

function teardown() {
  if (cleanup) {
    try {
      cleanup();
    } catch {
      // a view that fails to clean up must not block the next one
    }
    cleanup = null;
  }
}

let signInError = null;

async function route() {
  teardown();
  const session = auth.current();
  if (!session) {
    showShell(null);
    document.title = "Sign in · docpipe";
    const returnTo = window.location.hash.startsWith("#/") ? window.location.hash : "";
    cleanup = renderLogin(main, { settings, reason: auth.signOutReason(), error: signInError, returnTo });
    signInError = null;
    return;
  }
  showShell(session);
  const { path, params } = parseHash();
  const match = ROUTES.map((r) => ({ r, m: r.pattern.exec(path) })).find((x) => x.m);
  if (!match) {
    window.location.replace("#/documents");
    return;
  }
  for (const link of topbar.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === match.r.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${match.r.title} · docpipe`;
  replace(main);
  try {
    cleanup = match.r.view(main, { params, id: match.m[1], session, config: await config() }) || null;
  } catch (error) {
    replace(main, errorBox(error));
  }
  main.focus({ preventScroll: true });
}

function showShell(session) {
  topbar.hidden = !session;
  const who = document.getElementById("who-name");
  if (!session) {
    replace(who);
    return;
  }
  const admin = session.groups.includes("admins");
  for (const item of document.querySelectorAll("[data-admin]")) item.hidden = !admin;
  replace(who, h("span", { class: "visually-hidden" }, "Signed in as "), session.username, admin ? h("span", { class: "tag" }, "admin") : null);
}

document.getElementById("logout").addEventListener("click", async (event) => {
  event.currentTarget.disabled = true;
  await auth.logout(await settings());
});

auth.onSignedOut(() => {
  // Any 401 or expiry anywhere ends up here: back to the sign-in screen.
  window.setTimeout(route, 0);
});

async function start() {
  try {
    await auth.completeSignIn(await settings()); // back from the hosted UI with a code, or not
  } catch (error) {
    signInError = error;
  }
  window.addEventListener("hashchange", route);
  await route();
}

start().catch((error) => replace(main, errorBox(error, "docpipe could not start:")));
