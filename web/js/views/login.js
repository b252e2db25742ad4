// The signed-out screen: sign in through the hosted UI (the user pool's own page).

import * as auth from "../auth.js";
import { h, replace } from "../dom.js";
import { errorBox, notice } from "../ui.js";

export function renderLogin(main, { settings, reason, error, returnTo }) {
  const status = h("div", { class: "form-status" });
  const button = h("button", { type: "button", id: "sign-in" }, "Sign in");
  button.addEventListener("click", async () => {
    button.disabled = true;
    replace(status, h("p", { role: "status" }, "Taking you to the sign-in page…"));
    try {
      await auth.beginSignIn(await settings(), returnTo);
    } catch (failure) {
      replace(status, errorBox(failure));
      button.disabled = false;
    }
  });
  replace(
    main,
    h(
      "div",
      { class: "login-wrap" },
      h(
        "section",
        { class: "card login", "aria-labelledby": "login-title" },
        h("h1", { id: "login-title" }, "Sign in to docpipe"),
        reason ? notice(reason) : null,
        error ? errorBox(error) : null,
        h("p", { class: "muted" }, "You sign in on your organisation's docpipe sign-in page, then come straight back here."),
        status,
        button,
      ),
    ),
  );
  button.focus();
  return null;
}
