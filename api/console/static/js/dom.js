// Building the page from data. Every value from the API is set as text (textContent or an attribute),
// never parsed as HTML, so a name in a department file cannot become markup or script.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

const numberFormat = new Intl.NumberFormat("zh-CN", { maximumFractionDigits: 2 });

export function num(value) {
  return value === null || value === undefined ? "—" : numberFormat.format(value);
}

// 万元 / 亿元 the way Chinese government reports write money.
export function money(value, lang) {
  if (value === null || value === undefined) return "—";
  if (lang === "en") return numberFormat.format(value);
  const abs = Math.abs(value);
  if (abs >= 1e8) return `${numberFormat.format(value / 1e8)} 亿`;
  if (abs >= 1e4) return `${numberFormat.format(value / 1e4)} 万`;
  return numberFormat.format(value);
}

export function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

// A value the API masked for this caller's role (138****5678, 张*): shown as it came, marked.
export function isMasked(value) {
  return typeof value === "string" && value.includes("*");
}

// fn, called once input has paused for ms; .cancel() drops a pending call (a page that is left must
// not navigate on a timer set before).
export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

export function params(query) {
  return Object.fromEntries(new URLSearchParams(query || ""));
}

// A section that folds under its heading: open on a desk, folded on a phone so the key facts come first.
// A chart drawn while folded has no size; opening the section sends the resize every chart listens to.
export function fold(title, body, attrs = {}) {
  const open = !matchMedia("(max-width: 600px)").matches;
  const box = h("details", { class: "fold", open, ...attrs }, h("summary", {}, h("h2", {}, title)), body);
  box.addEventListener("toggle", () => box.open && window.dispatchEvent(new Event("resize")));
  return box;
}
