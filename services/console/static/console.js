// Vigie analyst console. Every string from the bus goes into the page as a TEXT node or an
// attribute value set through setAttribute: report text is hostile input, and no code path here
// parses HTML (no innerHTML, no insertAdjacentHTML, no document.write).
"use strict";

(function () {
  const PAGE_LIMIT = 300;
  const PINNED_LIMIT = 100;
  const URGENT = ["FLASH", "IMMEDIATE"];
  const PRECEDENCES = ["FLASH", "IMMEDIATE", "PRIORITY", "ROUTINE"];
  const LABEL_ORDER = ["np", "dr", "s", "ts"];
  const token = document.querySelector('meta[name="vigie-token"]').getAttribute("content");

  const TEXT = {
    fr: {
      labels: { np: "NP — NON PROTÉGÉ", dr: "DR — DIFFUSION RESTREINTE", s: "S — SECRET", ts: "TS — TRÈS SECRET" },
      tabs: { feed: "Flux", map: "Carte", dead: "Lettres mortes et santé", audit: "Audit" },
      live: "en direct", down: "déconnecté — reconnexion…", connecting: "connexion…",
      all: "tous", label: "Label", precedence: "Précédence", kind: "Nature", source: "Source",
      language: "Langue", flag: "Signal", ack: "Acquitter", revised: "révisé", partial: "partiel",
      back: "← Retour au flux", original: "Texte original (entités surlignées)",
      entities: "Entités", translation: "Traduction", summary: "Résumé", flags: "Signaux — à vérifier avant de se fier aux sorties",
      noflags: "Aucun signal", quality: "Contrôles", tables: "Sorties des tâches (dont logistique)",
      provenance: "Provenance", trace: "Trace", notrace: "Aucune trace pour ce rapport (export de télémétrie absent ou pas encore écrit)",
      batches: "lots moteur liés", correction: "Correction", send: "Envoyer la correction", sent: "Correction envoyée",
      comment: "Commentaire", field: "Sortie corrigée", task: "Tâche", value: "Valeur corrigée",
      dead: "Lettres mortes", health: "Santé des services", noDead: "Aucune lettre morte",
      reason: "Raison", stage: "Étape", bytes: "Octets d'origine (échappés)", refresh: "Actualiser",
      audit: "Journal d'audit", viewed: "a consulté", corrected: "a corrigé", who: "Qui", what: "Action",
      report: "Rapport", when: "Quand", reading: "Lecture", as: "en tant que", refused: "refusés par le serveur",
      type: "Type", value2: "Valeur normalisée", text: "Texte", offsets: "Positions", nopoints: "Aucune position dans le flux",
      service: "Service", state: "État", ready: "Prêt", problems: "Problèmes", stream: "Flux JetStream", messages: "Messages",
      model: "Modèle", engine: "Moteur", adapter: "Adaptateur", prompt: "Version d'invite", attempts: "Essais", timings: "Durées (ms)",
      open: "ouvrir", other: "English",
    },
    en: {
      labels: { np: "NP — NOT PROTECTED", dr: "DR — RESTRICTED", s: "S — SECRET", ts: "TS — TOP SECRET" },
      tabs: { feed: "Feed", map: "Map", dead: "Dead letters and health", audit: "Audit" },
      live: "live", down: "disconnected — reconnecting…", connecting: "connecting…",
      all: "all", label: "Label", precedence: "Precedence", kind: "Kind", source: "Source",
      language: "Language", flag: "Flag", ack: "Acknowledge", revised: "revised", partial: "partial",
      back: "← Back to the feed", original: "Original text (entities highlighted)",
      entities: "Entities", translation: "Translation", summary: "Summary", flags: "Flags — check before trusting the outputs",
      noflags: "No flag", quality: "Checks", tables: "Task outputs (logistics among them)",
      provenance: "Provenance", trace: "Trace", notrace: "No trace for this report (no telemetry export, or not written yet)",
      batches: "linked engine batches", correction: "Correction", send: "Send the correction", sent: "Correction sent",
      comment: "Comment", field: "Output corrected", task: "Task", value: "Corrected value",
      dead: "Dead letters", health: "Service health", noDead: "No dead letter",
      reason: "Reason", stage: "Stage", bytes: "Original bytes (escaped)", refresh: "Refresh",
      audit: "Audit log", viewed: "viewed", corrected: "corrected", who: "Who", what: "Action",
      report: "Report", when: "When", reading: "Reading", as: "as", refused: "refused by the server",
      type: "Type", value2: "Normalised value", text: "Text", offsets: "Offsets", nopoints: "No position in the feed",
      service: "Service", state: "State", ready: "Ready", problems: "Problems", stream: "JetStream stream", messages: "Messages",
      model: "Model", engine: "Engine", adapter: "Adapter", prompt: "Prompt version", attempts: "Attempts", timings: "Timings (ms)",
      open: "open", other: "Français",
    },
  };
  let lang = document.documentElement.getAttribute("lang") === "en" ? "en" : "fr";
  const t = (key) => TEXT[lang][key];

  // ---------------------------------------------------------------- DOM helpers (text only)

  const SVGNS = "http://www.w3.org/2000/svg";
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    for (const child of children) append(node, child);
    return node;
  }
  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVGNS, tag);
    setAttrs(node, attrs);
    for (const child of children) append(node, child);
    return node;
  }
  function setAttrs(node, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) throw new Error("no handler through attributes");
      node.setAttribute(k, v === true ? "" : String(v));
    }
  }
  function append(node, ...children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) { append(node, ...child); continue; }
      node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
  const $ = (id) => document.getElementById(id);

  // ---------------------------------------------------------------- state

  const state = {
    items: new Map(),      // report id → feed item (latest revision)
    rows: new Map(),       // report id → <li>
    order: [],             // report ids, oldest first
    arrival: new Map(),    // report id → arrival number
    arrivals: 0,
    acked: new Set(),
    revised: new Set(),
    counts: {},
    labels: [],
    refused: [],
    identity: null,
    user: null,
    corrections: false,
    dead: [],
    audit: [],
    tab: "feed",
    current: null,
    received: 0,
    live: 0,
    snapshots: 0,
  };
  window.vigieStats = () => ({
    received: state.received,
    live: state.live,
    snapshots: state.snapshots,
    shown: document.querySelectorAll("#feed > li, #pinned > li").length,
    held: state.items.size,
  });
  const filters = { label: "", precedence: "", kind: "", source: "", language: "", flag: "" };

  // ---------------------------------------------------------------- banner and header

  function highestLabel(labels) {
    let best = null;
    for (const lb of labels) if (best === null || LABEL_ORDER.indexOf(lb) > LABEL_ORDER.indexOf(best)) best = lb;
    return best;
  }
  function renderChrome() {
    const top = highestLabel(state.labels);
    for (const id of ["banner", "banner-bottom"]) {
      const b = $(id);
      b.textContent = top ? t("labels")[top] : "—";
      if (top) b.setAttribute("data-label", top);
    }
    const who = $("who");
    clear(who);
    append(who, `${t("reading")} ${state.labels.join(", ") || "—"}`);
    if (state.identity) append(who, ` ${t("as")} ${state.identity}`);
    if (state.user) append(who, ` (${state.user})`);
    if (state.refused.length) append(who, el("span", { class: "muted" }, ` · ${state.refused.join(", ")} ${t("refused")}`));
    const tabs = $("tabs");
    clear(tabs);
    for (const [key, name] of Object.entries(t("tabs"))) {
      const b = el("button", { type: "button", "data-tab": key, "aria-selected": state.tab === key ? "true" : "false" }, name);
      b.addEventListener("click", () => show(key));
      tabs.appendChild(b);
    }
    $("lang").textContent = t("other");
    renderCounts();
    renderFilters();
    setConn($("conn").getAttribute("data-state"));
  }
  function renderCounts() {
    const c = $("counts");
    clear(c);
    for (const p of PRECEDENCES) c.appendChild(el("span", { class: "prec", "data-p": p, "data-count": p }, `${p} ${state.counts[p] || 0}`));
  }
  function setConn(s) {
    const c = $("conn");
    c.setAttribute("data-state", s);
    c.textContent = t(s === "live" ? "live" : s === "down" ? "down" : "connecting");
  }
  $("lang").addEventListener("click", () => {
    lang = lang === "fr" ? "en" : "fr";
    document.documentElement.setAttribute("lang", lang);
    renderChrome();
    rerenderFeed();
    if (state.tab === "report" && state.current) renderReport(state.current);
    if (state.tab === "dead") renderDead();
    if (state.tab === "audit") renderAudit();
    if (state.tab === "map") renderMap();
  });

  function show(tab) {
    state.tab = tab;
    for (const [key, id] of [["feed", "feed-pane"], ["report", "report-pane"], ["map", "map-pane"], ["dead", "dead-pane"], ["audit", "audit-pane"]]) {
      $(id).hidden = key !== tab;
    }
    for (const b of document.querySelectorAll("#tabs button")) b.setAttribute("aria-selected", b.getAttribute("data-tab") === tab ? "true" : "false");
    if (tab === "map") renderMap();
    if (tab === "dead") renderDead();
    if (tab === "audit") renderAudit();
  }

  // ---------------------------------------------------------------- filters

  function renderFilters() {
    const box = $("filters");
    clear(box);
    const values = { label: new Set(), precedence: new Set(PRECEDENCES), kind: new Set(), source: new Set(), language: new Set(), flag: new Set() };
    for (const it of state.items.values()) {
      values.label.add(it.label); values.kind.add(it.kind); values.source.add(it.source);
      if (it.language) values.language.add(it.language);
      for (const f of it.flags) values.flag.add(f);
    }
    for (const key of Object.keys(filters)) {
      const select = el("select", { "data-filter": key, "aria-label": t(key) }, el("option", { value: "" }, `${t(key)}: ${t("all")}`));
      for (const v of [...values[key]].sort()) select.appendChild(el("option", { value: v, selected: filters[key] === v }, v));
      select.addEventListener("change", () => { filters[key] = select.value; applyFilters(); });
      box.appendChild(select);
    }
  }
  function passes(it) {
    return (!filters.label || it.label === filters.label) && (!filters.precedence || it.precedence === filters.precedence)
      && (!filters.kind || it.kind === filters.kind) && (!filters.source || it.source === filters.source)
      && (!filters.language || it.language === filters.language) && (!filters.flag || it.flags.includes(filters.flag));
  }
  function applyFilters() {
    for (const [id, row] of state.rows) row.hidden = !passes(state.items.get(id));
  }

  // ---------------------------------------------------------------- feed

  function pinned(it) { return URGENT.includes(it.precedence) && !state.acked.has(it.id); }

  function row(it) {
    const li = el("li", { class: "item", "data-id": it.id, "data-precedence": it.precedence, "data-label": it.label, "data-revision": it.revision },
      el("span", {}, el("span", { class: "tag", "data-label": it.label }, it.label.toUpperCase())),
      el("span", { class: "prec", "data-p": it.precedence }, it.precedence),
      el("span", { class: "snippet" },
        state.revised.has(it.id) ? el("span", { class: "revised" }, t("revised")) : null,
        it.partial ? el("span", { class: "flag" }, t("partial")) : null,
        it.flags.map((f) => el("span", { class: "flag", "data-flag": f }, f)),
        " ", it.snippet,
        el("div", { class: "meta" }, `${it.published_at || ""} · ${it.kind}/${it.source} · ${it.language || "?"} · ${it.id} · rev ${it.revision}`)),
      pinned(it) ? ackButton(it) : el("span", {}));
    li.addEventListener("click", () => openReport(it.id));
    li.hidden = !passes(it);
    return li;
  }
  function ackButton(it) {
    const b = el("button", { type: "button", class: "ack" }, t("ack"));
    b.addEventListener("click", (ev) => {
      ev.stopPropagation();
      state.acked.add(it.id);
      place(it, true);
    });
    return b;
  }
  // Puts the report's row where it belongs: pinned while urgent and unacknowledged, else in
  // the feed at its arrival position (newest first). A revision replaces the row in place.
  function place(it, moved) {
    const old = state.rows.get(it.id);
    const li = row(it);
    state.rows.set(it.id, li);
    const target = pinned(it) ? $("pinned") : $("feed");
    if (old && !moved && old.parentNode === target) { old.replaceWith(li); return; }
    if (old) old.remove();
    if (!old) { target.insertBefore(li, target.firstChild); return; }  // the newest arrival
    // Newest first: before the first row that arrived earlier.
    const mine = state.arrival.get(it.id);
    let before = null;
    for (const child of target.children) {
      if (state.arrival.get(child.getAttribute("data-id")) < mine) { before = child; break; }
    }
    target.insertBefore(li, before);
  }
  function add(it, change) {
    state.received += 1;
    const known = state.items.has(it.id);
    if (known && change === "revised") state.revised.add(it.id);
    state.items.set(it.id, it);
    if (!known) {
      state.order.push(it.id);
      state.arrival.set(it.id, ++state.arrivals);
      trim();
    }
    place(it, false);
    if (state.current && state.current.id === it.id && state.tab === "report") openReport(it.id);
  }
  function trim() {
    // The page is bounded: the oldest reports leave first (pinned ones count too).
    let pinnedCount = 0;
    for (const id of state.order) if (pinned(state.items.get(id))) pinnedCount += 1;
    while (state.order.length > PAGE_LIMIT) {
      const victim = state.order.find((id) => !pinned(state.items.get(id)) || pinnedCount > PINNED_LIMIT) || state.order[0];
      if (pinned(state.items.get(victim))) pinnedCount -= 1;
      state.order.splice(state.order.indexOf(victim), 1);
      const r = state.rows.get(victim);
      if (r) r.remove();
      state.rows.delete(victim); state.items.delete(victim); state.revised.delete(victim); state.acked.delete(victim);
      state.arrival.delete(victim);
    }
  }
  function rerenderFeed() {
    for (const it of state.items.values()) place(it, true);
  }

  // ---------------------------------------------------------------- report view

  async function api(path, options) {
    const r = await fetch(path, Object.assign({ headers: { "X-Vigie-Token": token }, credentials: "same-origin" }, options || {}));
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || String(r.status));
    return body;
  }
  async function openReport(id) {
    const pane = $("report-pane");
    try {
      const report = await api(`/api/report/${encodeURIComponent(id)}`);
      state.current = report;
      renderReport(report);
      show("report");
      const trace = await api(`/api/trace/${encodeURIComponent(id)}`);
      if (state.current && state.current.id === id) renderTrace(trace);
    } catch (err) {
      clear(pane);
      append(pane, el("p", { class: "error" }, String(err.message || err)));
      show("report");
    }
  }
  function section(title, ...body) { return [el("h3", {}, title), ...body]; }
  function kv(rows) {
    return el("table", {}, rows.filter((r) => r[1] !== null && r[1] !== undefined && r[1] !== "").map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", {}, String(v)))));
  }
  function hover(e) {
    const parts = [e.type];
    if (e.form) parts.push(e.form);
    if (e.value) parts.push(`→ ${e.value}`);
    if (e.lat !== null && e.lon !== null && e.lat !== undefined) parts.push(`(${e.lat.toFixed(5)}, ${e.lon.toFixed(5)})`);
    if (e.flags && e.flags.length) parts.push(`[${e.flags.join(", ")}]`);
    return parts.join(" ");
  }
  function renderReport(r) {
    const pane = $("report-pane");
    clear(pane);
    const back = el("button", { type: "button" }, t("back"));
    back.addEventListener("click", () => show("feed"));
    append(pane, back,
      el("div", { class: "banner", "data-label": r.label }, t("labels")[r.label]),
      el("h2", {}, el("span", { class: "prec", "data-p": r.precedence }, r.precedence), ` ${r.kind}/${r.source} · ${r.id} · rev ${r.revision}`,
        state.revised.has(r.id) ? [" ", el("span", { class: "revised" }, t("revised"))] : null,
        r.partial ? [" ", el("span", { class: "flag" }, t("partial"))] : null),
      el("p", { class: "muted" }, `${r.language || "?"}${r.language_confidence !== null ? ` (${r.language_confidence})` : ""} · ${r.published_at}`));
    // Flags first: what not to trust.
    append(pane, section(t("flags"), r.flag_list.length
      ? el("ul", { class: "flags" }, r.flag_list.map((f) => el("li", { "data-flag": f.code }, el("span", { class: "flag" }, f.code), " ", f.task ? `${f.task}: ` : "", f.detail, f.items.length ? ` [${f.items.join(", ")}]` : "")))
      : el("p", { class: "muted" }, t("noflags"))));
    const text = el("div", { class: "text", id: "report-text" });
    for (const seg of r.segments) {
      if (seg.entity === null) { append(text, seg.text); continue; }
      const e = r.entity_list[seg.entity];
      text.appendChild(el("mark", { "data-entity": seg.entity, "data-type": e.type, "data-start": seg.start, "data-end": seg.end, title: hover(e) }, seg.text));
    }
    append(pane, section(t("original"), text));
    if (r.original_text !== r.normalised_text) append(pane, el("details", {}, el("summary", {}, "original_text"), el("div", { class: "text" }, r.original_text)));
    append(pane, section(t("entities"), el("table", { class: "entities" },
      el("tr", {}, [t("type"), t("text"), t("value2"), t("offsets"), "source"].map((h) => el("th", {}, h))),
      r.entity_list.map((e) => el("tr", {}, el("td", {}, e.type, e.form ? ` (${e.form})` : ""), el("td", {}, e.text),
        el("td", {}, e.value || (e.lat !== null && e.lat !== undefined ? `${e.lat.toFixed(5)}, ${e.lon.toFixed(5)}` : "")), el("td", {}, `${e.start}–${e.end}`), el("td", {}, e.source))))));
    if (r.translation !== null) append(pane, section(`${t("translation")} (${r.target_language || "?"})`, el("div", { class: "text", id: "translation" }, r.translation)));
    if (r.summary !== null) append(pane, section(t("summary"), el("div", { class: "text", id: "summary" }, r.summary)));
    append(pane, section(t("quality"), el("table", {}, r.outcomes.map((o) => el("tr", {}, el("th", {}, o.task), el("td", {}, o.status),
      el("td", {}, o.detail || ""), el("td", {}, o.quality ? Object.entries(o.quality).map(([k, v]) => `${k} ${v}`).join(" · ") : ""))))));
    if (r.tables.length) {
      append(pane, section(t("tables"), r.tables.map((tb) => [el("p", {}, `${tb.task}${tb.name ? ` · ${tb.name}` : ""}`),
        el("table", { class: "output" }, el("tr", {}, tb.columns.map((c) => el("th", {}, c))), tb.rows.map((rw) => el("tr", {}, rw.map((c) => el("td", {}, c)))))])));
    }
    append(pane, section(t("provenance"), el("table", {},
      el("tr", {}, ["stage", t("model"), t("engine"), t("adapter"), t("prompt"), t("attempts"), "tokens", t("timings")].map((h) => el("th", {}, h))),
      r.provenance.map((p) => el("tr", {}, el("td", {}, `${p.stage} ${p.version}`), el("td", {}, p.model || ""), el("td", {}, p.engine || ""),
        el("td", {}, p.adapter || ""), el("td", {}, p.prompt_version || ""), el("td", {}, p.attempts), el("td", {}, `${p.prompt_tokens}/${p.completion_tokens}`),
        el("td", {}, `${p.ms} (queue ${p.queue_ms}, ttft ${p.ttft_ms}, gen ${p.generation_ms})`))))));
    append(pane, el("div", { id: "trace" }, section(t("trace"), el("p", { class: "muted" }, "…"))));
    if (r.corrections) append(pane, correctionForm(r));
  }
  function renderTrace(doc) {
    const box = $("trace");
    if (!box) return;
    clear(box);
    if (!doc.traces.length) { append(box, section(t("trace"), el("p", { class: "muted" }, t("notrace")))); return; }
    for (const tr of doc.traces) {
      const total = Math.max(tr.ms, 0.001);
      append(box, section(`${t("trace")} ${tr.trace_id} — ${tr.ms.toFixed(1)} ms`, el("table", { class: "waterfall" }, tr.rows.map((rw) => {
        const bar = el("span", { class: rw.error ? "bar error" : "bar", title: `${rw.name} ${rw.ms.toFixed(2)} ms` });
        bar.style.marginLeft = `${(rw.start_ms / total) * 100}%`;
        bar.style.width = `${Math.max(0.5, (rw.ms / total) * 100)}%`;
        return el("tr", {}, el("td", {}, "\u00a0".repeat(rw.depth * 2), rw.name), el("td", { class: "track" }, bar),
          el("td", {}, `${rw.ms.toFixed(1)} ms`), el("td", {}, rw.service), el("td", {}, rw.linked_batches ? `↔ ${rw.linked_batches} ${t("batches")}` : ""));
      }))));
    }
  }
  function correctionForm(r) {
    const fields = [];
    if (r.translation !== null) fields.push("translation");
    if (r.summary !== null) fields.push("summary");
    fields.push("entities");
    if (r.tables.length) fields.push("quantities");
    const task = el("select", { name: "task" }, r.outcomes.map((o) => el("option", { value: o.task }, o.task)));
    const field = el("select", { name: "field" }, fields.map((f) => el("option", { value: f }, f)));
    const value = el("textarea", { name: "value" });
    const comment = el("input", { name: "comment", type: "text", maxlength: 4096 });
    const status = el("span", { class: "muted" });
    const send = el("button", { type: "button" }, t("send"));
    send.addEventListener("click", async () => {
      try {
        const body = JSON.stringify({ report_id: r.id, revision: r.revision, task: task.value, field: field.value, value: value.value, comment: comment.value || null });
        await api("/api/correction", { method: "POST", body, headers: { "X-Vigie-Token": token, "Content-Type": "application/json" } });
        status.textContent = t("sent");
      } catch (err) { status.textContent = String(err.message || err); }
    });
    return el("div", { class: "correction" }, section(t("correction"),
      el("label", {}, `${t("task")} `, task), " ", el("label", {}, `${t("field")} `, field), el("div", {}, t("value"), value),
      el("label", {}, `${t("comment")} `, comment), " ", send, " ", status));
  }

  // ---------------------------------------------------------------- map

  function allPoints() {
    const out = [];
    for (const it of state.items.values()) for (const p of it.points) out.push({ p, it });
    return out;
  }
  function renderMap() {
    const pane = $("map-pane");
    clear(pane);
    pane.classList.add("map");
    const pts = allPoints();
    if (!pts.length) { append(pane, el("p", { class: "muted" }, t("nopoints"))); }
    // The points' extent with a margin (the world without points), graticule every step.
    let [s, n, w, e] = [-60, 75, -180, 180];
    if (pts.length) {
      s = Math.min(...pts.map((x) => x.p.lat)); n = Math.max(...pts.map((x) => x.p.lat));
      w = Math.min(...pts.map((x) => x.p.lon)); e = Math.max(...pts.map((x) => x.p.lon));
      const pad = Math.max(0.05, (n - s) * 0.15, (e - w) * 0.15);
      s = Math.max(-90, s - pad); n = Math.min(90, n + pad);
      w = Math.max(-180, w - pad); e = Math.min(180, e + pad);
    }
    // Equirectangular, true to scale on the frame's middle parallel.
    const cosLat = Math.max(0.05, Math.cos(((s + n) / 2) * Math.PI / 180));
    const W = 1000;
    // Widen the short side so that the frame keeps the true aspect within 250–600 units high.
    let H = (W * (n - s)) / ((e - w) * cosLat);
    if (H > 600) {
      const half = ((W * (n - s)) / (600 * cosLat)) / 2, mid = (w + e) / 2;
      [w, e] = [mid - half, mid + half]; H = 600;
    } else if (H < 250) {
      const half = ((250 * (e - w) * cosLat) / W) / 2, mid = (s + n) / 2;
      [s, n] = [mid - half, mid + half]; H = 250;
    }
    const x = (lon) => ((lon - w) / (e - w)) * W;
    const y = (lat) => ((n - lat) / (n - s)) * H;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, id: "map" }, svg("rect", { class: "frame", x: 0, y: 0, width: W, height: H }));
    const span = Math.max(n - s, e - w);
    const step = [0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 30].find((st) => span / st <= 10) || 30;
    const digits = step < 0.1 ? 2 : step < 1 ? 2 : 0;
    for (let lat = Math.ceil(s / step) * step; lat <= n; lat += step) {
      root.appendChild(svg("line", { class: "graticule", x1: 0, x2: W, y1: y(lat), y2: y(lat) }));
      root.appendChild(svg("text", { x: 3, y: y(lat) - 2 }, `${lat.toFixed(digits)}°`));
    }
    for (let lon = Math.ceil(w / step) * step; lon <= e; lon += step) {
      root.appendChild(svg("line", { class: "graticule", x1: x(lon), x2: x(lon), y1: 0, y2: H }));
      root.appendChild(svg("text", { x: x(lon) + 2, y: H - 3 }, `${lon.toFixed(digits)}°`));
    }
    for (const { p, it } of pts) {
      const c = svg("circle", { class: "point", cx: x(p.lon).toFixed(1), cy: y(p.lat).toFixed(1), r: 6, "data-id": it.id, "data-lat": p.lat, "data-lon": p.lon },
        svg("title", {}, `${it.precedence} ${it.label.toUpperCase()} ${it.id} — ${p.type} ${p.text} (${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}) — ${it.snippet}`));
      c.addEventListener("click", () => openReport(it.id));
      root.appendChild(c);
    }
    pane.appendChild(root);
  }

  // ---------------------------------------------------------------- dead letters, health, audit

  async function renderDead() {
    const pane = $("dead-pane");
    clear(pane);
    const refresh = el("button", { type: "button" }, t("refresh"));
    refresh.addEventListener("click", renderDead);
    append(pane, el("h3", {}, t("dead")));
    if (!state.dead.length) append(pane, el("p", { class: "muted" }, t("noDead")));
    for (const d of state.dead.slice(0, 100)) {
      append(pane, el("div", { class: "dead", "data-reason": d.reason },
        el("p", {}, el("span", { class: "tag", "data-label": d.label }, d.label.toUpperCase()), ` ${d.at} · ${t("stage")} ${d.stage} · ${t("reason")} `, el("strong", {}, d.reason), ` · ${d.subject}`),
        el("p", {}, d.message),
        el("details", {}, el("summary", {}, `${t("bytes")} — ${d.size} B${d.truncated ? " …" : ""}`), el("pre", { class: "bytes" }, d.data))));
    }
    append(pane, el("h3", {}, t("health"), " ", refresh));
    const box = el("div", { id: "health" }, "…");
    pane.appendChild(box);
    try {
      const h = await api("/api/health");
      clear(box);
      append(box, el("table", {}, el("tr", {}, [t("service"), "id", t("state"), t("ready"), "in flight", t("problems")].map((x) => el("th", {}, x))),
        h.instances.map((i) => el("tr", {}, el("td", {}, i.service), el("td", {}, i.id), el("td", {}, i.state || ""), el("td", {}, String(i.ready)),
          el("td", {}, i.in_flight === null ? "" : `${i.in_flight}/${i.concurrency}`), el("td", {}, i.problems.join("; "))))));
      append(box, el("table", {}, el("tr", {}, [t("stream"), t("messages"), "bytes"].map((x) => el("th", {}, x))),
        h.streams.map((st) => el("tr", {}, el("td", {}, st.stream), el("td", {}, st.messages === undefined ? st.error : st.messages), el("td", {}, st.bytes === undefined ? "" : st.bytes)))));
    } catch (err) { box.textContent = String(err.message || err); }
  }
  function renderAudit() {
    const pane = $("audit-pane");
    clear(pane);
    append(pane, el("h3", {}, t("audit")), el("table", { id: "audit" },
      el("tr", {}, [t("when"), t("who"), t("what"), t("report"), t("label")].map((x) => el("th", {}, x))),
      state.audit.slice(0, 300).map((a) => el("tr", {}, el("td", {}, a.at), el("td", {}, `${a.user || ""} ${a.identity || ""}`),
        el("td", {}, t(a.action) || a.action, a.detail ? ` — ${a.detail}` : ""), el("td", {}, `${a.report_id} rev ${a.revision}`),
        el("td", {}, `${a.report_label} → ${a.label}`)))));
  }

  // ---------------------------------------------------------------- the live stream

  function connect() {
    const source = new EventSource(`/events?token=${encodeURIComponent(token)}`);
    source.addEventListener("open", () => setConn("live"));
    source.addEventListener("error", () => setConn("down"));
    source.addEventListener("hello", (ev) => {
      const h = JSON.parse(ev.data);
      Object.assign(state, { labels: h.labels, refused: h.refused, identity: h.identity, user: h.user, corrections: h.corrections });
      renderChrome();
    });
    source.addEventListener("snapshot", (ev) => {
      const s = JSON.parse(ev.data);
      state.snapshots += 1;
      for (const [, li] of state.rows) li.remove();
      state.items.clear(); state.rows.clear(); state.order = []; state.arrival.clear();
      for (const it of s.items.slice().reverse()) add(it, "new");
      state.counts = s.counts;
      renderCounts();
      renderFilters();
      document.body.setAttribute("data-ready", "true");
    });
    let filterTimer = null;
    source.addEventListener("event", (ev) => {
      const e = JSON.parse(ev.data);
      state.live += 1;
      add(e.item, e.change);
      state.counts = e.counts;
      renderCounts();
      if (!filterTimer) filterTimer = setTimeout(() => { filterTimer = null; renderFilters(); }, 1000);
    });
    source.addEventListener("dead", (ev) => {
      const d = JSON.parse(ev.data);
      state.dead = d.live ? d.items.concat(state.dead).slice(0, 500) : d.items;
      if (state.tab === "dead") renderDead();
    });
    source.addEventListener("audit", (ev) => {
      const a = JSON.parse(ev.data);
      state.audit = a.live ? a.items.concat(state.audit).slice(0, 500) : a.items;
      if (state.tab === "audit") renderAudit();
    });
  }

  renderChrome();
  connect();
})();
