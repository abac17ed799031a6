// The login page: paste an API token (`mlc server user add NAME --token`, `mlc token create`);
// it is checked with WhoAmI and kept in localStorage.
import { ApiError, call, setToken } from "./api";
import { h } from "./dom";
import type { WhoAmIResponse } from "./types";

export function renderLogin(root: HTMLElement, onLogin: () => void, note?: string): void {
  const input = h("input", { id: "token", type: "password", placeholder: "mlc_…", autocomplete: "off", spellcheck: "false" });
  const msg = h("div", { class: "error", id: "login-error", hidden: !note }, note ?? "");
  const submit = async (ev: Event) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    setToken(token);
    msg.hidden = true;
    try {
      await call<WhoAmIResponse>("AuthService.WhoAmI");
      onLogin();
    } catch (e) {
      setToken(null);
      msg.textContent = e instanceof ApiError && e.unauthenticated ? "This token was refused: " + e.message : String(e instanceof Error ? e.message : e);
      msg.hidden = false;
    }
  };
  root.replaceChildren(
    h(
      "form",
      { class: "login", onsubmit: submit },
      h("h1", null, "mlcore"),
      h("p", null, "Paste an API token. Create one with ", h("code", null, "mlc token create"), " or ", h("code", null, "mlc server user token NAME"), "."),
      input,
      h("button", { type: "submit", id: "login-button" }, "Log in"),
      msg,
    ),
  );
  input.focus();
}
