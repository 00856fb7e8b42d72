// A small modal form (instead of window.prompt): resolves to the entered values, or null if cancelled.

import { h } from "./dom.js";
import { t } from "./i18n.js";

export function ask(title, fields, { confirm = t("dialog.ok") } = {}) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) =>
      f.multiline
        ? h("textarea", { name: f.name, rows: 3, placeholder: f.placeholder || "", required: f.required, "data-testid": `dialog-${f.name}` }, f.value || "")
        : h("input", { name: f.name, value: f.value || "", placeholder: f.placeholder || "", required: f.required, "data-testid": `dialog-${f.name}` }),
    );
    const form = h("form", { class: "dialog", role: "dialog", "aria-modal": "true", "data-testid": "dialog" },
      h("h3", {}, title),
      fields.map((f, i) => h("label", {}, f.label, inputs[i])),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", "data-testid": "dialog-cancel", onclick: () => close(null) }, t("dialog.cancel")),
        h("button", { type: "submit", "data-testid": "dialog-ok" }, confirm)));
    const backdrop = h("div", { class: "backdrop" }, form);
    const onKey = (event) => {
      if (event.key === "Escape") close(null);
    };
    function close(value) {
      document.removeEventListener("keydown", onKey, true);
      backdrop.remove();
      resolve(value);
    }
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      close(Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value.trim()])));
    });
    document.addEventListener("keydown", onKey, true);
    document.body.appendChild(backdrop);
    inputs[0]?.focus();
  });
}
