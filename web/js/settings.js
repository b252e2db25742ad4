// The app's run-time settings: config.json, served beside index.html.
//
// Written when the stack is deployed (on AWS) or served by the local gateway:
// the API's base URL ("" = this page's origin) and what the hosted-UI sign-in
// needs. Nothing about a stack is ever written into the app's files.

let loading = null;

export class SettingsError extends Error {}

/** config.json, fetched once per page load and checked. */
export function settings() {
  loading = loading || fetchSettings().catch((error) => {
    loading = null;
    throw error;
  });
  return loading;
}

async function fetchSettings() {
  let response;
  try {
    response = await fetch(new URL("config.json", document.baseURI).href, { cache: "no-cache", credentials: "omit" });
  } catch {
    throw new SettingsError("docpipe cannot be reached. Check your connection and reload the page.");
  }
  if (!response.ok) throw new SettingsError(`docpipe's configuration is missing (config.json: ${response.status}).`);
  const data = await response.json().catch(() => null);
  const required = ["client_id", "auth_domain", "redirect_uri", "logout_uri"];
  if (!data || typeof data !== "object" || required.some((k) => typeof data[k] !== "string" || !data[k])) {
    throw new SettingsError("docpipe's configuration (config.json) is incomplete.");
  }
  for (const key of ["auth_domain", "redirect_uri", "logout_uri", "api"]) {
    if (data[key] && !/^https?:\/\//.test(data[key])) throw new SettingsError(`config.json: ${key} is not an http(s) URL.`);
  }
  return Object.freeze({
    api: (data.api || "").replace(/\/+$/, ""),
    authDomain: data.auth_domain.replace(/\/+$/, ""),
    clientId: data.client_id,
    redirectUri: data.redirect_uri,
    logoutUri: data.logout_uri,
    scopes: Array.isArray(data.scopes) ? data.scopes.join(" ") : "openid email profile",
  });
}
