// The console's only way to the data: POST /graphql with the caller's credential, like any client.
// The credential lives in sessionStorage (gone when the tab closes), never in a cookie, so another
// site cannot make the browser send it (no CSRF).

const KEY = "entgraph.credential";
const ENDPOINT = new URL("../graphql", document.baseURI).toString();

export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export const session = {
  credential() {
    return sessionStorage.getItem(KEY);
  },
  login(credential) {
    sessionStorage.setItem(KEY, credential.trim());
  },
  logout() {
    sessionStorage.removeItem(KEY);
  },
  // Role and subject as the API last told us (me { role subject }); "public" until then.
  principal: { role: "public", subject: null },
};

// The schema's Role enum comes back as its name (ANALYST); the console speaks in role values.
export function principalOf(me) {
  return { role: String(me.role).toLowerCase(), subject: me.subject, scope: me.scope || null };
}

// The nested chain by rank; the collection channels' roles (a department, an enterprise) read as the
// public does, and their own pages are theirs and the admin's only (api/auth.py, Role.covers).
const RANKS = { public: 0, department: 0, enterprise: 0, analyst: 1, steward: 2, admin: 3 };
const CHANNELS = new Set(["department", "enterprise"]);

export function can(role) {
  const mine = session.principal.role;
  if (CHANNELS.has(role)) return mine === role || mine === "admin";
  return RANKS[mine] >= RANKS[role];
}

function authHeaders() {
  const credential = session.credential();
  if (!credential) return {};
  // A JWT is three base64url parts; anything else is an API key (egk_...).
  if (/^[\w-]+\.[\w-]+\.[\w-]+$/.test(credential)) return { Authorization: `Bearer ${credential}` };
  return { "X-API-Key": credential };
}

// Resolves to {data, errors}: partial data with errors is normal in GraphQL (a field this role may not
// see is null with a FORBIDDEN error beside it). Throws ApiError when there is no data at all. A 401
// means the stored key no longer holds (revoked, expired): the tab is logged out and told so, unless
// the caller is the login form checking a key it was just given (quiet).
export async function gql(query, variables = {}, { quiet = false } = {}) {
  // Persisted queries (Apollo's protocol): the document's hash first, its text only if the server asks.
  // The console's documents are registered with the server, so the text never travels; without
  // crypto.subtle (a page served over plain http from another host) the text is sent as before.
  const hash = await documentHash(query);
  const persisted = hash ? { persistedQuery: { version: 1, sha256Hash: hash } } : undefined;
  let { response, body } = await post(hash ? { variables, extensions: persisted } : { query, variables });
  if (hash && body.errors?.[0]?.extensions?.code === "PERSISTED_QUERY_NOT_FOUND") {
    ({ response, body } = await post({ query, variables, extensions: persisted }));
  }
  const errors = body.errors || [];
  if (response.status === 401) {
    if (!quiet && session.credential()) {
      session.logout();
      session.principal = { role: "public", subject: null };
      window.dispatchEvent(new Event("entgraph:expired"));
    }
    throw new ApiError(errors[0]?.message || "unauthenticated", "UNAUTHENTICATED", 401);
  }
  if (!body.data) {
    const first = errors[0] || {};
    throw new ApiError(first.message || `HTTP ${response.status}`, first.extensions?.code, response.status);
  }
  return { data: body.data, errors };
}

async function post(payload) {
  let response;
  try {
    response = await fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
      body: JSON.stringify(payload),
    });
  } catch (exc) {
    throw new ApiError(`network: ${exc.message}`, "NETWORK", 0);
  }
  try {
    return { response, body: await response.json() };
  } catch {
    throw new ApiError(`HTTP ${response.status}`, "INTERNAL", response.status);
  }
}

const hashes = new Map();

async function documentHash(query) {
  if (!globalThis.crypto?.subtle) return null;
  if (!hashes.has(query)) {
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(query));
    hashes.set(query, [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join(""));
  }
  return hashes.get(query);
}

// For mutations and queries whose errors are the point: throw on the first error.
export async function gqlStrict(query, variables = {}) {
  const { data, errors } = await gql(query, variables);
  if (errors.length) throw new ApiError(errors[0].message, errors[0].extensions?.code, 200);
  return data;
}

// A file behind the API's auth (row-error reports): fetched with the credential, saved from a blob.
export async function download(path, filename) {
  const response = await fetch(new URL(`..${path}`, document.baseURI), { headers: authHeaders() });
  if (!response.ok) {
    let message = `HTTP ${response.status}`;
    try {
      message = (await response.json()).errors?.[0]?.message || message;
    } catch {}
    throw new ApiError(message, "DOWNLOAD", response.status);
  }
  const url = URL.createObjectURL(await response.blob());
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// A file behind the API's auth to show in the page (a field check's photo): a Blob, or an ApiError.
export async function fetchBlob(path) {
  const response = await fetch(new URL(`..${path}`, document.baseURI), { headers: authHeaders() });
  if (!response.ok) throw new ApiError(`HTTP ${response.status}`, "DOWNLOAD", response.status);
  return response.blob();
}

// A plain JSON route behind the API's auth (GET /uploads ...): the body, or an ApiError.
export async function rest(path) {
  const response = await fetch(new URL(`..${path}`, document.baseURI), { headers: { Accept: "application/json", ...authHeaders() } });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(body.errors?.[0]?.message || `HTTP ${response.status}`, body.errors?.[0]?.extensions?.code, response.status);
  return body;
}

// Files to the upload queue (POST /uploads, multipart), with the bytes sent so far reported to
// onProgress (0..1): XMLHttpRequest, because fetch cannot tell how much of a body has gone.
export function uploadFiles(files, dataset, onProgress) {
  return new Promise((resolve, reject) => {
    const form = new FormData();
    for (const file of files) form.append("file", file, file.name);
    if (dataset) form.append("dataset", dataset);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", new URL("../uploads", document.baseURI));
    for (const [name, value] of Object.entries(authHeaders())) xhr.setRequestHeader(name, value);
    xhr.upload.onprogress = (event) => event.lengthComputable && onProgress(event.loaded / event.total);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText);
      } catch {}
      if (xhr.status === 202) resolve(body.jobs);
      else reject(new ApiError(body.errors?.[0]?.message || `HTTP ${xhr.status}`, body.errors?.[0]?.extensions?.code, xhr.status));
    };
    xhr.onerror = () => reject(new ApiError("network", "NETWORK", 0));
    xhr.send(form);
  });
}

// A JSON body to a plain route (PUT/POST /direct ...): the answer, or an ApiError whose ``details``
// holds the error's extensions (a refused form's per-field ``issues``).
export async function sendJson(method, path, payload) {
  const response = await fetch(new URL(`..${path}`, document.baseURI), {
    method,
    headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
    body: JSON.stringify(payload),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) return body;
  const error = body.errors?.[0];
  const failure = new ApiError(error?.message || `HTTP ${response.status}`, error?.extensions?.code, response.status);
  failure.details = error?.extensions || {};
  throw failure;
}

// A multipart form to a plain route (POST /honours/applications): the answer, or an ApiError.
export async function postForm(path, form) {
  const response = await fetch(new URL(`..${path}`, document.baseURI), { method: "POST", headers: { Accept: "application/json", ...authHeaders() }, body: form });
  const body = await response.json().catch(() => ({}));
  if (response.ok) return body;
  const error = body.errors?.[0];
  throw new ApiError(error?.message || `HTTP ${response.status}`, error?.extensions?.code, response.status);
}
