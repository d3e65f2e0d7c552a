// llm-deploy dashboard: keeps the deploy secret in sessionStorage (this tab only), polls
// /api/dashboard with it as a bearer token, and renders rows with textContent only.
"use strict";

const KEY = "llm-deploy-secret";
let timer = null;
let every = 5;

const $ = (id) => document.getElementById(id);

function elapsed(seconds) {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function cell(text, cls) {
  const td = document.createElement("td");
  if (cls) td.className = cls;
  if (text !== null && text !== undefined) td.textContent = String(text);
  return td;
}

function link(parent, label, url) {
  // The server only sends http(s) URLs; checked again so no other scheme becomes a link.
  if (!url || !/^https?:\/\//.test(url)) return;
  const a = document.createElement("a");
  a.href = url;
  a.textContent = label;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  parent.appendChild(a);
}

// How the round's run ended: conclusion, commit, checks, tokens and cost, the evaluator's answer.
function outcomeText(o) {
  if (!o) return "";
  const parts = [o.conclusion ? `run: ${o.conclusion}` : `run: ${o.step || "in progress"}`];
  if (o.commit_sha) parts.push(`commit ${o.commit_sha.slice(0, 7)}`);
  if (o.checks_passed !== null || o.checks_failed !== null) {
    parts.push(`checks ${o.checks_passed || 0} passed, ${o.checks_failed || 0} failed`);
  }
  if (o.tokens !== null) parts.push(`${o.tokens} tokens`);
  if (o.cost_usd !== null) parts.push(`$${Number(o.cost_usd).toFixed(4)}`);
  if (o.evaluator_accepted_at) {
    const at = new Date(o.evaluator_accepted_at * 1000).toLocaleTimeString();
    parts.push(`evaluator 200 at ${at}`);
  } else if (o.evaluator_status) {
    parts.push(`evaluator answered ${o.evaluator_status}`);
  } else if (o.conclusion) {
    parts.push("evaluator not answered 200");
  }
  return parts.join(" · ");
}

function row(t) {
  const tr = document.createElement("tr");
  tr.dataset.task = t.task;
  tr.dataset.state = t.state;
  tr.appendChild(cell(t.task, "task"));
  tr.appendChild(cell(t.round, "num"));
  const st = cell(null, "state-cell");
  const badge = document.createElement("span");
  badge.className = `state state-${t.state}`;
  badge.textContent = t.state;
  st.appendChild(badge);
  tr.appendChild(st);
  tr.appendChild(cell(elapsed(t.elapsed_s) + (t.running ? " …" : ""), "num elapsed"));
  const links = cell(null, "links");
  link(links, "repo", t.repo_url);
  link(links, "run", t.run_url);
  link(links, "page", t.pages_url);
  if (!links.childNodes.length) links.textContent = "—";
  tr.appendChild(links);
  let detail = t.outcome ? outcomeText(t.outcome) : t.step ? `last step: ${t.step}` : "";
  if (t.error) detail = t.step ? `${t.error} (after step: ${t.step})` : t.error;
  const failed = t.error || (t.outcome && t.outcome.conclusion && t.outcome.conclusion !== "success");
  tr.appendChild(cell(detail, failed ? "detail failed" : "detail"));
  return tr;
}

function render(data) {
  every = data.refresh_seconds || every;
  $("every").textContent = String(every);
  $("mode").textContent = `${data.mode} mode`;
  $("updated").textContent = `updated ${new Date(data.now * 1000).toLocaleTimeString()}`;
  const body = $("tasks").tBodies[0];
  body.replaceChildren(...data.tasks.map(row));
  $("empty").hidden = data.tasks.length > 0;
  renderDoctor(data.doctor);
}

const MARKS = { ok: "✓", fail: "✗", skip: "–" };

function item(text, cls) {
  const li = document.createElement("li");
  if (cls) li.className = cls;
  li.textContent = text;
  return li;
}

function renderDoctor(doctor) {
  // The last `llm-deploy doctor` result (null until it has run once with this data folder).
  $("doctor").hidden = !doctor;
  if (!doctor) return;
  const when = doctor.finished_at ? new Date(doctor.finished_at * 1000).toLocaleString() : "";
  $("doctor-when").textContent = `${doctor.ok ? "all clear" : "problems found"}, ${when}`;
  $("doctor-checks").replaceChildren(...doctor.checks.map((c) => item(
    `${MARKS[c.status] || "?"} ${c.name}: ${c.detail}${c.status === "fail" ? ` — fix: ${c.fix}` : ""}`,
    `check check-${c.status}`)));
  $("doctor-rounds").replaceChildren(...doctor.rounds.map((r) => item(
    `round ${r.round}: ` + r.phases.map((p) => p.detail ? `${p.name} (${p.detail})`
      : `${p.name} +${p.took_s}s`).join(", ") + (r.error ? ` — ✗ ${r.error}` : ""),
    r.error ? "round failed" : "round")));
}

function show(signedIn) {
  $("login").hidden = signedIn;
  $("board").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  if (!signedIn) {
    $("mode").textContent = "";
    $("updated").textContent = "";
    $("tasks").tBodies[0].replaceChildren();
  }
}

function signOut(message) {
  sessionStorage.removeItem(KEY);
  if (timer) clearTimeout(timer);
  timer = null;
  show(false);
  $("login-error").textContent = message || "";
}

async function refresh() {
  const secret = sessionStorage.getItem(KEY);
  if (!secret) return signOut();
  try {
    const res = await fetch("/api/dashboard", {
      headers: { Authorization: `Bearer ${secret}` },
      cache: "no-store",
      credentials: "omit",
    });
    if (res.status === 401) return signOut("That secret was not accepted.");
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    show(true);
    render(await res.json());
    $("board-error").textContent = "";
  } catch (err) {
    $("board-error").textContent = `Could not refresh: ${err.message}. Retrying.`;
  }
  timer = setTimeout(refresh, every * 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("secret").value;
    $("secret").value = "";
    if (!value) return;
    sessionStorage.setItem(KEY, value);
    if (timer) clearTimeout(timer);
    refresh();
  });
  $("logout").addEventListener("click", () => signOut());
  show(false);
  if (sessionStorage.getItem(KEY)) refresh();
});
