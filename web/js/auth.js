// Sign-in through the Cognito hosted UI: the authorization-code grant with PKCE.
//
// The app never sees a password: it sends the browser to the user pool's
// /oauth2/authorize with a one-time `state` and the SHA-256 challenge of a
// random `code_verifier`, and exchanges the code that comes back, with the
// verifier, at /oauth2/token. So the pool's MFA, federation and password
// resets work without changes here. Locally the gateway serves the same
// endpoints against the emulator's pool.
//
// Tokens live in sessionStorage (one tab, gone when it closes; never
// localStorage or cookies), are checked for expiry before every API call,
// renewed with the refresh token shortly before they expire, and cleared on
// sign-out and on any 401. Signing out also revokes the refresh token and
// ends the hosted UI's own session (/logout), so the next sign-in asks for the
// password again. Claims are read (not verified: the API verifies) only for
// the user's name, the expiry and the admins group.

const STORE_KEY = "docpipe.session";
const FLOW_KEY = "docpipe.signin"; // the sign-in under way: state, verifier, where to return
const REASON_KEY = "docpipe.signout-reason"; // survives the round trip through /logout
const EARLY_SECONDS = 60; // renew this long before the id token expires
const FLOW_SECONDS = 600; // a sign-in left unfinished longer than this is abandoned

export class AuthError extends Error {
  constructor(message, code = "auth") {
    super(message);
    this.name = "AuthError";
    this.code = code;
  }
}

/** The claims of a JWT, without verification. */
export function claims(token) {
  const part = String(token).split(".")[1];
  if (!part) throw new AuthError("The token is malformed");
  const text = new TextDecoder().decode(fromBase64Url(part));
  return JSON.parse(text);
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}

function base64Url(bytes) {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(bytes) {
  return base64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** PKCE S256: base64url(SHA-256(verifier)) (RFC 7636). */
export async function challengeOf(verifier) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64Url(new Uint8Array(digest));
}

/** Go to the hosted UI; `returnTo` is the app route to show once signed in. */
export async function beginSignIn(settings, returnTo = "") {
  const verifier = randomString(48); // 64 characters of [A-Za-z0-9_-]
  const state = randomString(24);
  sessionStorage.setItem(FLOW_KEY, JSON.stringify({ state, verifier, returnTo, at: Date.now() }));
  const query = new URLSearchParams({
    response_type: "code",
    client_id: settings.clientId,
    redirect_uri: settings.redirectUri,
    scope: settings.scopes,
    state,
    code_challenge: await challengeOf(verifier),
    code_challenge_method: "S256",
  });
  window.location.assign(`${settings.authDomain}/oauth2/authorize?${query}`);
}

/**
 * On the way back from the hosted UI (?code=…&state=… or ?error=…): exchange the code for tokens.
 * Returns null when this page load is not such a return, else {returnTo} or throws an AuthError.
 */
export async function completeSignIn(settings) {
  const query = new URLSearchParams(window.location.search);
  if (!query.has("code") && !query.has("error")) return null;
  const flow = readJson(sessionStorage.getItem(FLOW_KEY));
  sessionStorage.removeItem(FLOW_KEY);
  const returnTo = flow && typeof flow.returnTo === "string" ? flow.returnTo : "";
  // The code must not stay in the address bar, the history or a bookmark.
  history.replaceState(null, "", new URL(settings.redirectUri).pathname + (returnTo || "#/documents"));
  if (query.has("error")) {
    const text = query.get("error_description") || query.get("error");
    throw new AuthError(`Sign-in did not complete: ${text}.`, "denied");
  }
  if (!flow || flow.state !== query.get("state") || Date.now() - Number(flow.at) > FLOW_SECONDS * 1000) {
    throw new AuthError("This sign-in link is not the one this tab started, or it is too old. Please sign in again.", "state");
  }
  const tokens = await tokenRequest(settings, {
    grant_type: "authorization_code",
    client_id: settings.clientId,
    code: query.get("code"),
    redirect_uri: settings.redirectUri,
    code_verifier: flow.verifier,
  });
  save(fromTokens(tokens));
  return { returnTo };
}

async function tokenRequest(settings, form) {
  let response;
  try {
    response = await fetch(`${settings.authDomain}/oauth2/token`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(form).toString(),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new AuthError("The sign-in service cannot be reached. Check your connection and try again.", "network");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok || !data.id_token) {
    const known = { invalid_grant: "The sign-in expired or was already used. Please sign in again." };
    throw new AuthError(known[data.error] || `Sign-in failed (${data.error || response.status}).`, data.error || "auth");
  }
  return data;
}

function readJson(text) {
  try {
    return JSON.parse(text || "null");
  } catch {
    return null;
  }
}

function save(session) {
  sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
  sessionStorage.removeItem(REASON_KEY); // a session again: why the last one ended no longer matters
}

function fromTokens(tokens, previous = {}) {
  const c = claims(tokens.id_token);
  return {
    idToken: tokens.id_token,
    accessToken: tokens.access_token || previous.accessToken || null,
    refreshToken: tokens.refresh_token || previous.refreshToken || null,
    exp: Number(c.exp) || 0,
    username: c["cognito:username"] || c.email || c.sub,
    groups: Array.isArray(c["cognito:groups"]) ? c["cognito:groups"] : [],
  };
}

export function current() {
  const session = readJson(sessionStorage.getItem(STORE_KEY));
  return session && session.idToken ? session : null;
}

const listeners = new Set();

/** Called with the reason whenever the session ends (sign-out, expiry, 401). */
export function onSignedOut(listener) {
  listeners.add(listener);
}

export function clear(reason = "") {
  sessionStorage.removeItem(STORE_KEY);
  if (reason) sessionStorage.setItem(REASON_KEY, reason);
  for (const listener of listeners) listener(reason);
}

/**
 * Why the last session ended, shown on the sign-in screen until someone signs in again: the
 * screen may be drawn more than once (a second refused request, a change of address) and must
 * keep saying why.
 */
export function signOutReason() {
  return sessionStorage.getItem(REASON_KEY) || "";
}

let refreshing = null;

/** A valid id token, renewed if it is about to expire; ends the session if it cannot be. */
export async function idToken(settings) {
  const session = current();
  if (!session) throw new AuthError("Please sign in.", "signed_out");
  const now = Date.now() / 1000;
  if (session.exp - now > EARLY_SECONDS) return session.idToken;
  if (session.refreshToken) {
    refreshing = refreshing || refresh(settings, session).finally(() => (refreshing = null));
    try {
      return (await refreshing).idToken;
    } catch {
      // fall through: the session cannot be renewed
    }
  }
  if (session.exp - now > 5) return session.idToken;
  clear("Your session expired. Please sign in again.");
  throw new AuthError("Your session expired. Please sign in again.", "expired");
}

async function refresh(settings, session) {
  const tokens = await tokenRequest(settings, {
    grant_type: "refresh_token",
    client_id: settings.clientId,
    refresh_token: session.refreshToken,
  });
  const renewed = fromTokens(tokens, session);
  save(renewed);
  return renewed;
}

/** Sign out: forget the tokens, revoke the refresh token, end the hosted UI's session. */
export async function logout(settings) {
  const session = current();
  sessionStorage.setItem(REASON_KEY, "You signed out.");
  sessionStorage.removeItem(STORE_KEY);
  if (session && session.refreshToken) {
    const revoke = fetch(`${settings.authDomain}/oauth2/revoke`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ token: session.refreshToken, client_id: settings.clientId }).toString(),
      credentials: "omit",
      keepalive: true,
    }).catch(() => null);
    await Promise.race([revoke, new Promise((resolve) => setTimeout(resolve, 2000))]);
  }
  const query = new URLSearchParams({ client_id: settings.clientId, logout_uri: settings.logoutUri });
  window.location.assign(`${settings.authDomain}/logout?${query}`);
}
