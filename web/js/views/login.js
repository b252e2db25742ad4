// The sign-in form (Cognito USER_PASSWORD_AUTH).

import * as auth from "../auth.js";
import { h, replace } from "../dom.js";
import { errorBox, notice } from "../ui.js";

export function renderLogin(main, { config, reason, onSignedIn }) {
  const status = h("div", { class: "form-status" });
  const username = h("input", { id: "username", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit" }, "Sign in");
  const form = h(
    "form",
    { class: "card login", "aria-labelledby": "login-title", novalidate: true },
    h("h1", { id: "login-title" }, "Sign in to docpipe"),
    reason ? notice(reason) : null,
    h("div", { class: "field" }, h("label", { for: "username" }, "User name"), username),
    h("div", { class: "field" }, h("label", { for: "password" }, "Password"), password),
    status,
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!username.value.trim() || !password.value) {
      replace(status, errorBox("Enter your user name and password."));
      return;
    }
    submit.disabled = true;
    replace(status, h("p", { role: "status" }, "Signing in…"));
    try {
      await auth.login(await config(), username.value.trim(), password.value);
      password.value = "";
      onSignedIn();
    } catch (error) {
      replace(status, errorBox(error));
      submit.disabled = false;
      password.select();
    }
  });
  replace(main, h("div", { class: "login-wrap" }, form));
  username.focus();
  return null;
}
