// Cognito sign-in with the USER_PASSWORD_AUTH flow, straight from the browser.
//
// Tokens live in sessionStorage (one tab, gone when it closes; never
// localStorage), are checked for expiry before every API call, refreshed with
// the refresh token when close to expiring, and cleared on logout and on any
// 401. The id token's claims are read (not verified: the API verifies) only
// to show the user's name, know when it expires and whether they are an admin.

const STORE_KEY = "docpipe.session";
const EARLY_SECONDS = 60; // refresh this long before the id token expires

export class AuthError extends Error {
  constructor(message, code = "auth") {
    super(message);
    this.name = "AuthError";
    this.code = code;
  }
}

export function cognitoEndpoint(config) {
  if (config.cognito_endpoint) return config.cognito_endpoint.replace(/\/?$/, "/");
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(config.region || "")) throw new AuthError("The API's region is not valid");
  return `https://cognito-idp.${config.region}.amazonaws.com/`;
}

/** The claims of a JWT, without verification. */
export function claims(token) {
  const part = String(token).split(".")[1];
  if (!part) throw new AuthError("The token is malformed");
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
  const text = new TextDecoder().decode(Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)));
  return JSON.parse(text);
}

async function cognito(config, target, body) {
  let response;
  try {
    response = await fetch(cognitoEndpoint(config), {
      method: "POST",
      headers: {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": `AWSCognitoIdentityProviderService.${target}`,
      },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch {
    throw new AuthError("The sign-in service cannot be reached. Check your connection and try again.", "network");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const type = String(data.__type || "").split("#").pop();
    const messages = {
      NotAuthorizedException: "Wrong user name or password.",
      UserNotFoundException: "Wrong user name or password.",
      PasswordResetRequiredException: "This account's password must be reset first.",
      UserNotConfirmedException: "This account is not confirmed yet.",
      TooManyRequestsException: "Too many attempts. Wait a moment and try again.",
    };
    throw new AuthError(messages[type] || data.message || `Sign-in failed (${response.status}).`, type || "auth");
  }
  return data;
}

function save(session) {
  sessionStorage.setItem(STORE_KEY, JSON.stringify(session));
}

function fromResult(result, previous = {}) {
  const idToken = result.IdToken;
  const c = claims(idToken);
  return {
    idToken,
    accessToken: result.AccessToken || previous.accessToken || null,
    refreshToken: result.RefreshToken || previous.refreshToken || null,
    exp: Number(c.exp) || 0,
    username: c["cognito:username"] || c.email || c.sub,
    groups: Array.isArray(c["cognito:groups"]) ? c["cognito:groups"] : [],
  };
}

/** Sign in; stores and returns the session. */
export async function login(config, username, password) {
  const data = await cognito(config, "InitiateAuth", {
    AuthFlow: "USER_PASSWORD_AUTH",
    ClientId: config.client_id,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  if (data.ChallengeName) {
    throw new AuthError(
      `This account must complete the "${data.ChallengeName}" step before it can sign in here.`,
      "challenge",
    );
  }
  if (!data.AuthenticationResult || !data.AuthenticationResult.IdToken) {
    throw new AuthError("The sign-in service gave no token.");
  }
  const session = fromResult(data.AuthenticationResult);
  save(session);
  return session;
}

export function current() {
  try {
    const session = JSON.parse(sessionStorage.getItem(STORE_KEY) || "null");
    return session && session.idToken ? session : null;
  } catch {
    return null;
  }
}

let clearedBecause = "";
const listeners = new Set();

/** Called with the reason whenever the session ends (logout, expiry, 401). */
export function onSignedOut(listener) {
  listeners.add(listener);
}

export function clear(reason = "") {
  sessionStorage.removeItem(STORE_KEY);
  clearedBecause = reason;
  for (const listener of listeners) listener(reason);
}

/** Why the last session ended (shown on the login form), then forgotten. */
export function takeSignOutReason() {
  const reason = clearedBecause;
  clearedBecause = "";
  return reason;
}

let refreshing = null;

/** A valid id token, refreshed if it is about to expire; ends the session if it cannot be. */
export async function idToken(config) {
  const session = current();
  if (!session) throw new AuthError("Please sign in.", "signed_out");
  const now = Date.now() / 1000;
  if (session.exp - now > EARLY_SECONDS) return session.idToken;
  if (session.refreshToken) {
    refreshing = refreshing || refresh(config, session).finally(() => (refreshing = null));
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

async function refresh(config, session) {
  const data = await cognito(config, "InitiateAuth", {
    AuthFlow: "REFRESH_TOKEN_AUTH",
    ClientId: config.client_id,
    AuthParameters: { REFRESH_TOKEN: session.refreshToken },
  });
  const renewed = fromResult(data.AuthenticationResult, session);
  save(renewed);
  return renewed;
}

/** Sign out: forget the tokens here, and ask Cognito to revoke them (best effort). */
export async function logout(config) {
  const session = current();
  clear("You signed out.");
  if (session && session.accessToken && config) {
    await cognito(config, "GlobalSignOut", { AccessToken: session.accessToken }).catch(() => null);
  }
}
