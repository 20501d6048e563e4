/* SOS 1379 staff console: institute inbox and coordinator workbench on the JSON API.
   No framework, no inline script (CSP), all text through textContent. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("page-data").textContent);
  var lang = DATA.lang;
  var TOKEN_KEY = "sos1379.console.token";
  var PKCE_KEY = "sos1379.console.pkce";
  var state = { token: null, claims: null, view: null, tab: "new", selected: null, referrals: [] };

  // ------------------------------------------------------------------ helpers
  function t(key, vars) {
    var s = (DATA.i18n[lang] && DATA.i18n[lang][key]) || DATA.i18n.ko[key] || key;
    Object.keys(vars || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(vars[k])); });
    return s;
  }
  function name(table, code) {
    var item = (DATA[table] || {})[code];
    return item ? (item[lang] || item.ko) : (code || "-");
  }
  function regionName(code) {
    var r = (DATA.regions || []).filter(function (x) { return x.code === code; })[0];
    return r ? (r[lang] || r.ko) : (code || "-");
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === "text") node.textContent = v;
      else if (k === "class") node.className = v;
      else if (k.indexOf("on") === 0) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(id) { return document.getElementById(id); }
  function announce(msg) { var live = $("live"); live.textContent = ""; setTimeout(function () { live.textContent = msg; }, 30); }
  function fmtTime(iso) {
    if (!iso) return "-";
    return new Date(iso).toLocaleString(lang === "ko" ? "ko-KR" : "en-GB",
      { timeZone: "Asia/Seoul", year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }
  function countdown(iso) {
    if (!iso) return { text: t("due_none"), cls: "ok" };
    var ms = new Date(iso).getTime() - Date.now();
    var hours = Math.floor(Math.abs(ms) / 3600000);
    if (ms < 0) return { text: t("due_over", { h: hours }), cls: "bad" };
    if (hours < 24) return { text: t("due_hours", { h: hours, m: Math.floor((ms % 3600000) / 60000) }), cls: "warn" };
    return { text: t("due_left", { d: Math.floor(hours / 24), h: hours % 24 }), cls: "ok" };
  }
  function problemText(err) {
    var body = (err && err.body) || {};
    if (body.errors && body.errors.length) {
      return body.errors.map(function (e) { return e.field + ": " + (lang === "ko" ? e.message_ko : e.message_en); }).join(" / ");
    }
    return (lang === "ko" ? body.detail_ko || body.title_ko : body.detail || body.title) || String(err && err.status || err);
  }
  function b64url(bytes) {
    var s = ""; bytes.forEach(function (b) { s += String.fromCharCode(b); });
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function decodeClaims(token) {
    try {
      var part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      var json = decodeURIComponent(atob(part).split("").map(function (c) {
        return "%" + ("00" + c.charCodeAt(0).toString(16)).slice(-2); }).join(""));
      return JSON.parse(json);
    } catch (e) { return null; }
  }
  function roleOf(claims) {
    if (claims["custom:institute"]) return "institute";
    var groups = claims["cognito:groups"] || [];
    return ["lead", "coordinator", "counselor"].filter(function (r) { return groups.indexOf(r) >= 0; })[0] || null;
  }

  async function api(method, path, body, extraHeaders) {
    var headers = Object.assign({ "Authorization": "Bearer " + state.token }, extraHeaders || {});
    var init = { method: method, headers: headers };
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    else if (method === "POST") { headers["Content-Type"] = "application/json"; }
    var resp = await fetch(path, init);
    if (resp.status === 401) { signOut(t("session_expired")); throw { status: 401, body: {} }; }
    var type = resp.headers.get("Content-Type") || "";
    var data = type.indexOf("json") >= 0 ? await resp.json() : await resp.text();
    if (!resp.ok) throw { status: resp.status, body: data };
    return data;
  }

  // ------------------------------------------------------------------ sign-in
  function showLogin(message) {
    $("app").hidden = true;
    var box = clear($("login"));
    box.hidden = false;
    var login = DATA.login || { mode: "none" };
    var inner = el("div", { class: "login-box" }, [el("h1", { id: "login-title", text: t("login_title"), tabindex: "-1" })]);
    if (message) inner.appendChild(el("p", { class: "notice error", role: "alert", text: message }));
    if (login.mode === "cognito") {
      inner.appendChild(el("p", { text: t("login_cognito_hint") }));
      inner.appendChild(el("button", { type: "button", class: "primary", id: "cognito-login", text: t("login_cognito"),
        onclick: startCognito }));
    } else if (login.mode === "dev") {
      inner.appendChild(devLoginForm());
    } else {
      inner.appendChild(el("p", { text: t("login_none") }));
    }
    box.appendChild(inner);
  }

  function devLoginForm() {
    var role = el("select", { id: "dev-role", name: "role" }, ["institute", "counselor", "coordinator", "lead"].map(function (r) {
      return el("option", { value: r, text: t("role_" + r) }); }));
    var codes = Object.keys(DATA.institutes).filter(function (c) { return c !== "BIZINFO1357" && c !== "CCEI"; });
    var inst = el("select", { id: "dev-institute", name: "institute" }, codes.map(function (c) {
      return el("option", { value: c, text: c + " · " + name("institutes", c) }); }));
    var instField = el("div", { class: "field", id: "dev-institute-field" }, [el("label", { for: "dev-institute", text: t("dev_institute") }), inst]);
    role.addEventListener("change", function () { instField.hidden = role.value !== "institute"; });
    var sub = el("input", { id: "dev-sub", name: "sub", type: "text", value: "kim", autocomplete: "username", required: true });
    var form = el("form", { id: "dev-login", novalidate: true }, [
      el("h2", { text: t("dev_title") }, [" ", el("span", { class: "dev-tag", text: "DEV" })]),
      el("p", { class: "meta", text: t("dev_hint") }),
      el("div", { class: "field" }, [el("label", { for: "dev-role", text: t("dev_role") }), role]),
      instField,
      el("div", { class: "field" }, [el("label", { for: "dev-sub", text: t("dev_sub") }), sub]),
      el("button", { type: "submit", class: "primary", text: t("dev_submit") })
    ]);
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var body = { role: role.value, sub: sub.value.trim() };
      if (role.value === "institute") body.institute = inst.value;
      var resp = await fetch("console/dev-login", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      var data = await resp.json();
      if (!resp.ok) { showLogin(t("login_failed", { detail: problemText({ status: resp.status, body: data }) })); return; }
      signIn(data.token);
    });
    return form;
  }

  async function startCognito() {
    var verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
    var digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
    var st = b64url(crypto.getRandomValues(new Uint8Array(16)));
    sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier: verifier, state: st }));
    var params = new URLSearchParams({ response_type: "code", client_id: DATA.login.client_id, redirect_uri: redirectUri(),
      scope: "openid email profile", state: st, code_challenge: b64url(digest), code_challenge_method: "S256" });
    location.assign(DATA.login.domain + "/oauth2/authorize?" + params.toString());
  }
  function redirectUri() { return location.origin + location.pathname; }

  async function finishCognito(params) {
    var saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || "{}");
    sessionStorage.removeItem(PKCE_KEY);
    history.replaceState(null, "", location.pathname + "?lang=" + lang);
    if (!saved.state || saved.state !== params.get("state")) { showLogin(t("login_failed", { detail: "state" })); return; }
    var resp = await fetch(DATA.login.domain + "/oauth2/token", { method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: "authorization_code", client_id: DATA.login.client_id, code: params.get("code"),
        redirect_uri: redirectUri(), code_verifier: saved.verifier }).toString() });
    var data = await resp.json();
    if (!resp.ok || !data.id_token) { showLogin(t("login_failed", { detail: data.error || resp.status })); return; }
    // the ID token carries custom:institute and cognito:groups; the API verifies it (aud = this client)
    signIn(data.id_token);
  }

  function signIn(token) {
    var claims = decodeClaims(token);
    if (!claims || !roleOf(claims)) { showLogin(t("login_failed", { detail: "role" })); return; }
    state.token = token; state.claims = claims;
    sessionStorage.setItem(TOKEN_KEY, token);
    start();
  }

  function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    state.token = null; state.claims = null;
    $("who").hidden = true; $("logout").hidden = true;
    if (!message && DATA.login.mode === "cognito") {
      location.assign(DATA.login.domain + "/logout?" + new URLSearchParams({ client_id: DATA.login.client_id, logout_uri: redirectUri() }));
      return;
    }
    showLogin(message);
  }

  // ------------------------------------------------------------------ shell
  function start() {
    $("login").hidden = true;
    var role = roleOf(state.claims);
    var who = state.claims.username || state.claims["cognito:username"] || state.claims.sub;
    $("who").textContent = t("who", { name: who, role: role === "institute" ? state.claims["custom:institute"] : t("role_" + role) });
    $("who").hidden = false;
    var logout = $("logout"); logout.textContent = t("logout"); logout.hidden = false;
    var app = clear($("app")); app.hidden = false;
    if (role === "institute") institute(app); else coordinator(app, role);
  }

  // ------------------------------------------------------------------ institute view
  var TABS = ["new", "accepted", "waiting", "due", "all"];
  function inTab(r, tab) {
    var open = r.status === "referred" || r.status === "accepted";
    if (tab === "new") return r.status === "referred" && !r.waiting_for_sme;
    if (tab === "accepted") return r.status === "accepted" && !r.waiting_for_sme;
    if (tab === "waiting") return !!r.waiting_for_sme;
    if (tab === "due") {
      var due = r.guidance_due_at || r.respond_by;
      return open && !r.waiting_for_sme && due && new Date(due).getTime() - Date.now() < 24 * 3600000;
    }
    return true;
  }

  function institute(app) {
    var code = state.claims["custom:institute"];
    app.appendChild(el("h1", { id: "view-title", tabindex: "-1", text: t("inbox_title", { institute: name("institutes", code) }) }));
    var tabs = el("div", { class: "tabs", role: "group", "aria-label": t("inbox_title", { institute: code }) });
    TABS.forEach(function (tab) {
      tabs.appendChild(el("button", { type: "button", "data-tab": tab, "aria-pressed": String(tab === state.tab),
        onclick: function () { state.tab = tab; renderTabs(); renderInbox(); } }, [t("tab_" + tab), " ", el("span", { class: "count", "data-count": tab })]));
    });
    tabs.appendChild(el("button", { type: "button", id: "refresh", onclick: function () { loadInbox(); loadReservations(); },
      text: t("refresh") }));
    app.appendChild(tabs);
    app.appendChild(el("div", { class: "console-main" }, [
      el("section", { "aria-labelledby": "inbox-heading" }, [el("h2", { id: "inbox-heading", class: "visually-hidden", text: t("inbox_title", { institute: code }) }),
        el("ul", { class: "items", id: "inbox" })]),
      el("section", { class: "panel", id: "detail", "aria-live": "polite", tabindex: "-1" }, [el("p", { class: "empty", text: t("detail_empty") })])
    ]));
    // the equipment bookings come below the inbox once it is drawn: appended last, they never push
    // anything the reader already sees (no layout shift)
    loadInbox().then(loadReservations);
  }

  // Equipment bookings of this institute's instruments: confirm, decline, propose another time, cancel.
  // Shown only while the institute has live bookings (most institutes own no bookable equipment).
  async function loadReservations() {
    try {
      var data = await api("GET", "institute/reservations");
      var items = (data.reservations || []).filter(function (r) {
        return ["pending", "proposed", "confirmed"].indexOf(r.status) >= 0; });
      var box = $("reservations");
      if (!items.length && !box) return;
      if (!box) {
        $("app").appendChild(el("section", { class: "panel", id: "reservations", "aria-labelledby": "resv-heading" }, [
          el("h2", { id: "resv-heading", text: t("resv_title") }), el("ul", { class: "items", id: "resv-list" })]));
      }
      renderReservations(items);
    } catch (err) { if (err.status !== 401) announce(t("action_failed", { detail: problemText(err) })); }
  }

  function slotLabel(r) {
    var end = new Date(r.slot_end).toLocaleTimeString(lang === "ko" ? "ko-KR" : "en-GB",
      { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit" });
    return fmtTime(r.slot_start) + " – " + end;
  }

  function renderReservations(items) {
    var list = clear($("resv-list"));
    if (!items.length) { list.appendChild(el("li", { class: "empty" }, [el("p", { class: "empty", text: t("resv_empty") })])); return; }
    items.forEach(function (r) {
      var base = "institute/reservations/" + encodeURIComponent(r.reservation_id) + "/";
      var row = el("div", { class: "row" });
      if (r.status === "pending") {
        row.appendChild(el("button", { type: "button", class: "primary", "data-action": "confirm", text: t("resv_confirm"),
          onclick: function () { resvAct(base + "confirm", {}, "done_resv_confirm"); } }));
        row.appendChild(el("button", { type: "button", class: "danger", "data-action": "decline", text: t("resv_decline"),
          onclick: function () { resvAct(base + "decline", {}, "done_resv_decline"); } }));
      } else {
        row.appendChild(el("button", { type: "button", class: "danger", "data-action": "cancel", text: t("resv_cancel"),
          onclick: function () { resvAct(base + "cancel", {}, "done_resv_cancel"); } }));
      }
      var li = el("li", { "data-reservation": r.reservation_id, "data-status": r.status }, [
        el("p", { class: "item-title", text: r.equipment_name + " · " + slotLabel(r) }),
        el("p", { class: "meta", text: t("resv_meta", { case: r.case_number || "", samples: r.samples || 1, status: t("resv_st_" + r.status) }) }),
        r.purpose ? el("p", { text: t("resv_purpose", { text: r.purpose }) }) : null,
        row]);
      if (r.status === "pending") li.appendChild(proposeForm(r, base));
      list.appendChild(li);
    });
  }

  function proposeForm(r, base) {
    var id = "propose-" + r.reservation_id;
    var input = el("input", { type: "datetime-local", id: id, name: "slot_start", step: "3600", required: true });
    var error = el("p", { class: "field-error", id: "e-" + id, hidden: true });
    var form = el("form", { novalidate: true }, [el("fieldset", {}, [el("legend", { text: t("resv_propose") }),
      el("label", { for: id, text: t("resv_propose_start") }), input, error,
      el("button", { type: "submit", text: t("resv_propose") })])]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      // the input is Korea wall-clock time; the booking keeps its length
      var start = new Date(input.value + ":00+09:00");
      var length = new Date(r.slot_end).getTime() - new Date(r.slot_start).getTime();
      var body = isNaN(start.getTime()) ? { slot_start: input.value } :
        { slot_start: start.toISOString(), slot_end: new Date(start.getTime() + length).toISOString() };
      resvAct(base + "propose", body, "done_resv_propose", error, input);
    });
    return form;
  }

  async function resvAct(path, body, done, errorSlot, input) {
    try {
      await api("POST", path, body);
      announce(t(done));
      await loadReservations();
      var box = $("reservations");
      box.insertBefore(el("p", { class: "notice", role: "status", id: "resv-result", text: t(done) }), box.children[1] || null);
    } catch (err) {
      if (err.status === 401) return;
      var msg = t("action_failed", { detail: problemText(err) });
      if (errorSlot) { errorSlot.textContent = msg; errorSlot.hidden = false; if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", errorSlot.id); input.focus(); } }
      announce(msg);
    }
  }

  function renderTabs() {
    document.querySelectorAll("[data-tab]").forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-tab") === state.tab)); });
    document.querySelectorAll("[data-count]").forEach(function (s) {
      var tab = s.getAttribute("data-count");
      s.textContent = "(" + state.referrals.filter(function (r) { return inTab(r, tab); }).length + ")";
    });
  }

  async function loadInbox() {
    try {
      var data = await api("GET", "institute/referrals");
      state.referrals = data.referrals || [];
      renderTabs(); renderInbox();
    } catch (err) { if (err.status !== 401) announce(t("action_failed", { detail: problemText(err) })); }
  }

  function renderInbox() {
    var list = clear($("inbox"));
    var items = state.referrals.filter(function (r) { return inTab(r, state.tab); });
    if (!items.length) { list.appendChild(el("li", { class: "empty" }, [el("p", { class: "empty", text: t("inbox_empty") })])); return; }
    items.forEach(function (r) {
      var due = countdown(r.status === "referred" || r.status === "accepted" ? (r.guidance_due_at || r.respond_by) : null);
      var open = r.status === "referred" || r.status === "accepted";
      list.appendChild(el("li", {}, [el("button", { type: "button", class: "item", "data-case": r.case_id,
        "aria-current": String(state.selected === r.case_id), onclick: function () { openReferral(r.case_id); } }, [
        el("span", { class: "item-title", text: r.title }),
        el("span", { class: "meta", text: r.case_number + " · " + name("services", r.service_type) + " · " + t("rs_" + r.status) }),
        " ", open ? el("span", { class: "badge " + due.cls, text: due.text }) : null
      ])]));
    });
  }

  async function openReferral(caseId) {
    state.selected = caseId;
    renderInbox();
    var panel = clear($("detail"));
    try {
      var d = await api("GET", "institute/referrals/" + encodeURIComponent(caseId));
      renderReferral(panel, d);
    } catch (err) { if (err.status !== 401) panel.appendChild(el("p", { class: "notice error", text: problemText(err) })); }
  }

  function dl(pairs) {
    var list = el("dl", { class: "facts" });
    pairs.forEach(function (p) { if (p[1] !== null && p[1] !== undefined) { list.appendChild(el("dt", { text: p[0] })); list.appendChild(el("dd", { text: String(p[1]) })); } });
    return list;
  }


  // Files of the case (photos with EXIF/GPS removed, scanned PDFs): only scanned-clean files open,
  // through a presigned link valid a few minutes, in a new tab.
  async function renderAttachments(panel, listPath) {
    var box = el("div", { id: "attachments" }, [el("h3", { text: t("attachments") })]);
    panel.appendChild(box);
    try {
      var items = (await api("GET", listPath)).attachments || [];
      if (!items.length) { box.appendChild(el("p", { class: "meta", text: t("no_attachments") })); return; }
      box.appendChild(el("ul", { class: "reasons", id: "attachment-list" }, items.map(function (a) {
        var who = t(a.uploaded_by && a.uploaded_by.kind === "institute" ? "att_by_institute" : "att_by_sme");
        var label = a.filename + " (" + who + ")";
        if (a.status !== "available") {
          var note = a.status === "rejected" || a.status === "blocked" ? t("att_refused") : t("att_pending");
          return el("li", { "data-attachment": a.attachment_id }, [label + " · " + note]);
        }
        return el("li", { "data-attachment": a.attachment_id }, [label + " ", el("button", { type: "button", class: "link",
          text: t("open_file"), onclick: async function () {
            try {
              var opened = await api("GET", listPath + "/" + encodeURIComponent(a.attachment_id));
              window.open(opened.url, "_blank", "noopener,noreferrer");
            } catch (err) { if (err.status !== 401) announce(problemText(err)); }
          } })]);
      })));
    } catch (err) { if (err.status !== 401) box.appendChild(el("p", { class: "notice error", text: problemText(err) })); }
  }

  function renderReferral(panel, d) {
    var m = d.message, c = d.case, r = d.referral;
    var open = r.status === "referred" || r.status === "accepted";
    var due = countdown(open ? (c.guidance_due_at || r.respond_by) : null);
    panel.appendChild(el("h2", { id: "detail-title", tabindex: "-1", text: m.title }));
    panel.appendChild(el("p", {}, [el("span", { class: "badge " + due.cls, id: "detail-due", text: due.text })]));
    panel.appendChild(dl([[t("case_number"), c.case_number], [t("status"), c.status_label[lang]],
      [t("referral_status"), t("rs_" + r.status)], [t("service"), name("services", m.service_type)],
      [t("company"), m.company.name + " (" + (m.company.region_name || m.company.region) + ")"]]));
    panel.appendChild(el("h3", { text: t("description") }));
    panel.appendChild(el("p", { class: "description", text: m.description }));
    panel.appendChild(el("h3", { text: t("reasons") }));
    panel.appendChild(el("ul", { class: "reasons", id: "reasons" }, (m.routing.reasons || []).map(function (x) { return el("li", { text: x }); })));
    if (m.evidence && m.evidence.length) {
      panel.appendChild(el("h3", { text: t("evidence") }));
      panel.appendChild(el("ul", { class: "reasons", id: "evidence" }, m.evidence.map(function (e) {
        var label = "[" + e.type + "] " + e.title + " (" + e.id + ")";
        return el("li", {}, [e.link ? el("a", { href: e.link, rel: "noopener noreferrer", target: "_blank", text: label }) : label]);
      })));
    }
    panel.appendChild(el("h3", { text: t("contact") }));
    if (m.contact) {
      panel.appendChild(dl([[t("contact_name"), m.contact.name], [t("phone"), m.contact.phone], [t("email"), m.contact.email]]));
    } else { panel.appendChild(el("p", { class: "meta", text: t("contact_withheld") })); }
    if (d.exchanges && d.exchanges.length) {
      panel.appendChild(el("h3", { text: t("exchanges") }));
      panel.appendChild(el("ol", { class: "history", id: "exchanges" }, d.exchanges.map(function (x) {
        return el("li", {}, [el("p", {}, [el("strong", { text: t("question") + ": " }), x.question, " ", el("span", { class: "meta", text: fmtTime(x.asked_at) })]),
          el("p", {}, x.answer ? [el("strong", { text: t("answer") + ": " }), x.answer, " ", el("span", { class: "meta", text: fmtTime(x.answered_at) })]
                               : [el("span", { class: "meta", text: t("no_answer") })])]);
      })));
    }
    if (c.outcome) { panel.appendChild(el("h3", { text: t("outcome") })); panel.appendChild(el("p", { text: c.outcome.summary })); }
    renderAttachments(panel, "institute/referrals/" + encodeURIComponent(c.case_id) + "/attachments");
    var base = "institute/referrals/" + encodeURIComponent(c.case_id) + "/";
    var actions = el("div", { class: "actions" });
    if (r.status === "referred") {
      actions.appendChild(el("div", { class: "row" }, [el("button", { type: "button", class: "primary", id: "accept", text: t("accept"),
        onclick: function () { act(base + "accept", {}, "done_accept", c.case_id); } })]));
    }
    if (r.status === "accepted" && c.status === "accepted") {
      actions.appendChild(el("div", { class: "row" }, [el("button", { type: "button", id: "start", text: t("start"),
        onclick: function () { act(base + "start", {}, "done_start", c.case_id); } })]));
    }
    if (open && c.status !== "info_requested") {
      actions.appendChild(textAction("request", t("request_info"), t("request_question"), "question", base + "request-info", "done_request", c.case_id, ""));
    }
    if (r.status === "accepted") {
      actions.appendChild(textAction("resolve", t("resolve"), t("resolve_summary"), "summary", base + "resolve", "done_resolve", c.case_id, "primary"));
    }
    if (open) {
      actions.appendChild(textAction("decline", t("decline"), t("decline_reason"), "reason", base + "decline", "done_decline", c.case_id, "danger"));
    }
    panel.appendChild(actions);
  }

  function textAction(id, legend, label, field, path, done, caseId, cls) {
    var input = el("textarea", { id: "f-" + id, name: field, required: true });
    var form = el("form", { id: "form-" + id, novalidate: true }, [el("fieldset", {}, [el("legend", { text: legend }),
      el("label", { for: "f-" + id, text: label }), input,
      el("p", { class: "field-error", id: "e-" + id, hidden: true }),
      el("button", { type: "submit", class: cls || "", text: legend })])]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var body = {}; body[field] = input.value;
      act(path, body, done, caseId, $("e-" + id), input);
    });
    return form;
  }

  async function act(path, body, done, caseId, errorSlot, input) {
    try {
      await api("POST", path, body);
      announce(t(done));
      await loadInbox();
      await openReferral(caseId);
      var panel = $("detail");
      panel.insertBefore(el("p", { class: "notice", role: "status", id: "action-result", text: t(done) }), panel.firstChild);
    } catch (err) {
      if (err.status === 401) return;
      var msg = t("action_failed", { detail: problemText(err) });
      if (errorSlot) { errorSlot.textContent = msg; errorSlot.hidden = false; if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", errorSlot.id); input.focus(); } }
      announce(msg);
    }
  }

  // ------------------------------------------------------------------ coordinator view
  var VIEWS = ["triage", "board", "intake", "report"];
  function coordinator(app, role) {
    var nav = el("nav", { class: "views", "aria-label": t("brand") });
    VIEWS.forEach(function (v) {
      nav.appendChild(el("button", { type: "button", "data-view": v, onclick: function () { showView(v); }, text: t("view_" + v) }));
    });
    app.appendChild(nav);
    app.appendChild(el("div", { id: "view" }));
    showView("triage");
  }

  function showView(v) {
    state.view = v;
    document.querySelectorAll("[data-view]").forEach(function (b) {
      if (b.getAttribute("data-view") === v) b.setAttribute("aria-current", "page"); else b.removeAttribute("aria-current"); });
    var view = clear($("view"));
    ({ triage: triage, board: board, intake: intakeForm, report: report })[v](view);
  }

  async function triage(view) {
    view.appendChild(el("h1", { id: "view-title", tabindex: "-1", text: t("view_triage") }));
    var main = el("div", { class: "console-main" }, [el("div", { id: "queue" }),
      el("section", { class: "panel", id: "detail", tabindex: "-1" }, [el("p", { class: "empty", text: t("detail_empty") })])]);
    view.appendChild(main);
    await loadQueue();
  }

  async function loadQueue() {
    var box = $("queue");
    if (!box) return;
    try {
      var q = await api("GET", "coordinator/queue");
      clear(box);
      var any = false;
      ["low_confidence", "declined_by_all", "new"].forEach(function (sec) {
        var items = q[sec] || [];
        box.appendChild(el("h2", { id: "sec-" + sec, text: t("sec_" + sec) + " (" + items.length + ")" }));
        var list = el("ul", { class: "items", "aria-labelledby": "sec-" + sec, "data-section": sec });
        items.forEach(function (c) {
          any = true;
          var due = countdown(c.guidance_due_at);
          list.appendChild(el("li", {}, [el("button", { type: "button", class: "item", "data-case": c.case_id,
            "aria-current": String(state.selected === c.case_id), onclick: function () { openCase(c.case_id); } }, [
            el("span", { class: "item-title", text: c.title }),
            el("span", { class: "meta", text: c.case_number + " · " + name("services", c.service_type) + " · " +
              (c.assigned_to ? t("assigned_to", { who: c.assigned_to }) : t("unassigned")) }),
            el("span", { class: "meta block" }, [t("suggested") + ": " + ((c.suggested || []).map(function (s) { return s.code; }).join(", ") || "-")]),
            " ", el("span", { class: "badge " + due.cls, text: due.text })
          ])]));
        });
        if (!items.length) list.appendChild(el("li", { class: "empty" }, [el("p", { class: "empty", text: t("queue_empty") })]));
        box.appendChild(list);
      });
      return any;
    } catch (err) { if (err.status !== 401) box.appendChild(el("p", { class: "notice error", text: problemText(err) })); }
  }

  async function openCase(caseId) {
    state.selected = caseId;
    document.querySelectorAll("#queue [data-case]").forEach(function (b) { b.setAttribute("aria-current", String(b.getAttribute("data-case") === caseId)); });
    var panel = clear($("detail"));
    try {
      var d = await api("GET", "coordinator/cases/" + encodeURIComponent(caseId));
      renderCase(panel, d);
    } catch (err) { if (err.status !== 401) panel.appendChild(el("p", { class: "notice error", text: problemText(err) })); }
  }

  function renderCase(panel, d) {
    var c = d.case, routing = c.routing || {};
    var me = state.claims.username || state.claims.sub;
    panel.appendChild(el("h2", { id: "detail-title", tabindex: "-1", text: c.title }));
    panel.appendChild(dl([[t("case_number"), c.case_number], [t("status"), name("statuses", c.status)],
      [t("service"), name("services", c.service_type)], [t("channel"), name("channels", c.channel)],
      [t("company"), (c.company || {}).name], [t("region"), regionName((c.company || {}).region)],
      [t("assigned_to", { who: "" }).trim(), c.assigned_to || t("unassigned")]]));
    panel.appendChild(el("h3", { text: t("description") }));
    panel.appendChild(el("p", { text: c.description }));
    renderAttachments(panel, "coordinator/cases/" + encodeURIComponent(c.case_id) + "/attachments");
    panel.appendChild(el("h3", { text: t("router") + (routing.confidence !== undefined ? " · " + t("confidence", { c: routing.confidence }) : "") }));
    var ranking = routing.institutes || [];
    panel.appendChild(el("ul", { class: "reasons", id: "ranking" }, ranking.slice(0, 5).map(function (i) {
      return el("li", {}, [el("strong", { text: i.code + " " + name("institutes", i.code) }), " · " + t("score", { s: i.score }) +
        ((i.reasons || []).length ? " · " + i.reasons.slice(0, 3).join("; ") : "")]);
    })));
    var base = "coordinator/cases/" + encodeURIComponent(c.case_id) + "/";
    if (c.assigned_to !== me) {
      panel.appendChild(el("div", { class: "row" }, [el("button", { type: "button", id: "assign-me", text: t("assign_me"),
        onclick: function () { caseAct(base + "assign", { coordinator: me }, "done_assign", c.case_id); } })]));
    }
    // re-route: the router's suggestions pre-listed, any other institute addable
    var suggested = ranking.slice(0, 3).map(function (i) { return i.code; });
    var boxes = el("div", { class: "choices", id: "reroute-choices" }, suggested.map(function (code, n) {
      return el("label", { class: "choice" }, [el("input", { type: "checkbox", name: "institutes", value: code, id: "rr-" + code }), " " + code + " · " + name("institutes", code)]);
    }));
    var other = el("select", { id: "rr-other", name: "other" }, [el("option", { value: "", text: "-" })].concat(
      Object.keys(DATA.institutes).filter(function (x) { return suggested.indexOf(x) < 0; }).map(function (x) {
        return el("option", { value: x, text: x + " · " + name("institutes", x) }); })));
    var reason = el("textarea", { id: "rr-reason", name: "reason", required: true });
    var err = el("p", { class: "field-error", id: "e-reroute", hidden: true });
    var form = el("form", { id: "form-reroute", novalidate: true }, [el("fieldset", {}, [el("legend", { text: t("reroute") }),
      el("p", { class: "meta", text: t("reroute_targets") }), boxes,
      el("label", { for: "rr-other", text: t("reroute_other") }), other,
      el("label", { for: "rr-reason", text: t("reroute_reason") }), reason, err,
      el("button", { type: "submit", class: "primary", text: t("reroute_submit") })])]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var codes = Array.prototype.slice.call(form.querySelectorAll("input[name=institutes]:checked")).map(function (i) { return i.value; });
      if (other.value && codes.indexOf(other.value) < 0) codes.push(other.value);
      if (!codes.length) { err.textContent = t("reroute_pick"); err.hidden = false; announce(t("reroute_pick")); return; }
      caseAct(base + "reroute", { institutes: codes, reason: reason.value }, "done_reroute", c.case_id, err, reason);
    });
    panel.appendChild(form);
    var note = el("textarea", { id: "note-text", name: "text", required: true });
    var noteErr = el("p", { class: "field-error", id: "e-note", hidden: true });
    var noteForm = el("form", { id: "form-note", novalidate: true }, [el("fieldset", {}, [el("legend", { text: t("note") }),
      el("label", { for: "note-text", text: t("note") }), note, noteErr, el("button", { type: "submit", text: t("note_submit") })])]);
    noteForm.addEventListener("submit", function (ev) { ev.preventDefault(); caseAct(base + "notes", { text: note.value }, "done_note", c.case_id, noteErr, note); });
    panel.appendChild(noteForm);
    panel.appendChild(el("h3", { text: t("history") }));
    panel.appendChild(el("ol", { class: "history", id: "history" }, (d.history || []).slice().reverse().map(function (e) {
      var extra = (e.data && (e.data.text || e.data.reason || e.data.summary || e.data.question)) || "";
      return el("li", {}, [el("span", { class: "meta", text: fmtTime(e.at) + " · " }), e.type + " · " + (e.actor ? e.actor.kind + ":" + e.actor.id : ""),
        extra ? " — " + extra : ""]);
    })));
  }

  async function caseAct(path, body, done, caseId, errorSlot, input) {
    try {
      await api("POST", path, body);
      announce(t(done));
      await loadQueue();
      await openCase(caseId);
      var panel = $("detail");
      panel.insertBefore(el("p", { class: "notice", role: "status", id: "action-result", text: t(done) }), panel.firstChild);
    } catch (err) {
      if (err.status === 401) return;
      var msg = t("action_failed", { detail: problemText(err) });
      if (errorSlot) { errorSlot.textContent = msg; errorSlot.hidden = false; if (input) { input.setAttribute("aria-invalid", "true"); input.setAttribute("aria-describedby", errorSlot.id); } }
      announce(msg);
    }
  }

  async function board(view) {
    view.appendChild(el("h1", { id: "view-title", tabindex: "-1", text: t("board_title") }));
    try {
      var q = await api("GET", "coordinator/queue");
      var cases = (q.at_risk || []).map(function (c) { return [c, "at_risk"]; }).concat((q.breached || []).map(function (c) { return [c, "breached"]; }));
      function tally(keyOf) {
        var out = {};
        cases.forEach(function (pair) {
          (keyOf(pair[0]) || [t("unassigned")]).forEach(function (k) {
            out[k] = out[k] || { at_risk: 0, breached: 0 }; out[k][pair[1]] += 1; });
        });
        return out;
      }
      function table(id, caption, rows, label) {
        var keys = Object.keys(rows).sort();
        return el("table", { class: "figures", id: id }, [el("caption", { text: caption }),
          el("thead", {}, [el("tr", {}, [el("th", { scope: "col", text: label }), el("th", { scope: "col", text: t("at_risk") }), el("th", { scope: "col", text: t("breached") })])]),
          el("tbody", {}, keys.length ? keys.map(function (k) { return el("tr", {}, [el("th", { scope: "row", text: k }),
            el("td", { text: String(rows[k].at_risk) }), el("td", { text: String(rows[k].breached) })]); })
            : [el("tr", {}, [el("th", { scope: "row", text: t("none") }), el("td", { text: "0" }), el("td", { text: "0" })])])]);
      }
      view.appendChild(el("div", { class: "board" }, [
        table("board-institutes", t("board_by_institute"), tally(function (c) { return (c.referred_to || []).length ? c.referred_to : null; }), t("by_institute")),
        table("board-coordinators", t("board_by_coordinator"), tally(function (c) { return c.assigned_to ? [c.assigned_to] : null; }), t("board_by_coordinator"))]));
      view.appendChild(el("h2", { text: t("board_cases") }));
      view.appendChild(el("ul", { class: "items", id: "board-cases" }, cases.length ? cases.map(function (pair) {
        var c = pair[0], due = countdown(c.guidance_due_at);
        return el("li", {}, [el("div", { class: "item" }, [el("span", { class: "item-title", text: c.title }),
          el("span", { class: "meta", text: c.case_number + " · " + (c.referred_to || []).join(", ") + " · " + (c.assigned_to || t("unassigned")) }), " ",
          el("span", { class: "badge " + (pair[1] === "breached" ? "bad" : "warn"), text: t(pair[1]) + " · " + due.text })])]);
      }) : [el("li", { class: "empty" }, [el("p", { class: "empty", text: t("queue_empty") })])]));
    } catch (err) { if (err.status !== 401) view.appendChild(el("p", { class: "notice error", text: problemText(err) })); }
  }

  function field(id, label, control) { return el("div", { class: "field" }, [el("label", { for: id, text: label }), control]); }

  function intakeForm(view) {
    view.appendChild(el("h1", { id: "view-title", tabindex: "-1", text: t("intake_title") }));
    var summary = el("div", { id: "intake-errors", class: "notice error", role: "alert", hidden: true, tabindex: "-1" });
    function input(id, type, attrs) { return el("input", Object.assign({ id: id, name: id, type: type || "text" }, attrs || {})); }
    function select(id, options) { return el("select", { id: id, name: id }, options.map(function (o) { return el("option", { value: o[0], text: o[1] }); })); }
    var form = el("form", { id: "intake-form", novalidate: true }, [summary,
      field("in-channel", t("channel"), select("in-channel", [["call_center", t("ch_call_center")], ["visit", t("ch_visit")]])),
      field("in-service", t("service"), select("in-service", Object.keys(DATA.services).map(function (k) { return [k, name("services", k)]; }))),
      field("in-title", t("title"), input("in-title", "text", { required: true, maxlength: "200" })),
      field("in-description", t("description"), el("textarea", { id: "in-description", name: "in-description", required: true })),
      field("in-company", t("company_name"), input("in-company", "text", { required: true })),
      field("in-brn", t("business_number"), input("in-brn", "text", { required: true, inputmode: "numeric", placeholder: "000-00-00000" })),
      field("in-region", t("region"), select("in-region", DATA.regions.map(function (r) { return [r.code, r[lang] || r.ko]; }))),
      field("in-size", t("size"), select("in-size", [["small", t("size_small")], ["medium", t("size_medium")], ["mid_tier", t("size_mid_tier")]])),
      field("in-industry", t("industry"), input("in-industry", "text")),
      field("in-contact", t("contact_name"), input("in-contact", "text", { required: true, autocomplete: "off" })),
      field("in-phone", t("phone"), input("in-phone", "tel", { required: true, autocomplete: "off" })),
      field("in-email", t("email"), input("in-email", "email", { required: true, autocomplete: "off" })),
      el("fieldset", {}, [el("legend", { text: t("preferred") }),
        el("label", { class: "choice" }, [el("input", { type: "checkbox", id: "in-sms", checked: true }), " " + t("sms")]),
        el("label", { class: "choice" }, [el("input", { type: "checkbox", id: "in-mail", checked: true }), " " + t("email")])]),
      field("in-lang", t("language"), select("in-lang", [["ko", "한국어"], ["en", "English"]])),
      // contact verification (sos1379.verification): what the counselor read back and the SME confirmed
      el("fieldset", {}, [el("legend", { text: t("verified_legend") }),
        el("p", { class: "hint", text: t("verified_hint") }),
        el("label", { class: "choice" }, [el("input", { type: "checkbox", id: "in-verified-sms" }), " " + t("sms")]),
        el("label", { class: "choice" }, [el("input", { type: "checkbox", id: "in-verified-mail" }), " " + t("email")])]),
      el("label", { class: "choice" }, [el("input", { type: "checkbox", id: "in-consent" }), " " + t("consent_pi")]),
      el("label", { class: "choice" }, [el("input", { type: "checkbox", id: "in-share" }), " " + t("consent_share")]),
      el("button", { type: "submit", class: "primary", text: t("intake_submit") })]);
    var key = null;
    form.addEventListener("input", function () { key = null; });
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      var v = function (id) { return $(id).value; };
      var prefs = []; if ($("in-sms").checked) prefs.push("sms"); if ($("in-mail").checked) prefs.push("email");
      var verified = []; if ($("in-verified-sms").checked) verified.push("sms"); if ($("in-verified-mail").checked) verified.push("email");
      var body = { channel: v("in-channel"), service_type: v("in-service"), title: v("in-title"), description: v("in-description"),
        company: { name: v("in-company"), business_number: v("in-brn"), region: v("in-region"), size: v("in-size"), industry: v("in-industry") || undefined },
        contact: { name: v("in-contact"), phone: v("in-phone"), email: v("in-email"), preferred_channels: prefs, language: v("in-lang") },
        consent: { personal_info: $("in-consent").checked, share_with_institutes: $("in-share").checked },
        verified_channels: verified };
      key = key || (crypto.randomUUID ? crypto.randomUUID() : b64url(crypto.getRandomValues(new Uint8Array(16))));
      try {
        var receipt = await api("POST", "coordinator/cases", body, { "Idempotency-Key": key });
        summary.hidden = true; form.reset(); key = null;
        var msg = t("done_intake", { number: receipt.case_number });
        view.insertBefore(el("p", { class: "notice", role: "status", id: "action-result", text: msg }), form);
        announce(msg);
      } catch (err) {
        if (err.status === 401) return;
        clear(summary);
        summary.appendChild(el("h2", { text: t("errors_title") }));
        summary.appendChild(el("p", { text: problemText(err) }));
        summary.hidden = false; summary.focus();
      }
    });
    view.appendChild(form);
  }

  function barChart(title, values, labelOf) {
    var NS = "http://www.w3.org/2000/svg";
    var keys = Object.keys(values);
    var rowH = 22, labelW = 170, chartW = 300, height = Math.max(1, keys.length) * rowH + 8;
    var peak = Math.max.apply(null, keys.map(function (k) { return values[k]; }).concat([1]));
    var svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + (labelW + chartW + 50) + " " + height);
    svg.setAttribute("class", "chart bars"); svg.setAttribute("role", "img");
    var titleEl = document.createElementNS(NS, "title"); titleEl.textContent = t("chart", { title: title }); svg.appendChild(titleEl);
    keys.forEach(function (k, i) {
      var y = i * rowH + 4, w = Math.round(chartW * values[k] / peak);
      var label = document.createElementNS(NS, "text"); label.setAttribute("x", "0"); label.setAttribute("y", String(y + 14));
      label.setAttribute("class", "label"); label.textContent = labelOf(k); svg.appendChild(label);
      var bar = document.createElementNS(NS, "rect"); bar.setAttribute("x", String(labelW)); bar.setAttribute("y", String(y));
      bar.setAttribute("width", String(w)); bar.setAttribute("height", "16"); bar.setAttribute("class", "bar"); svg.appendChild(bar);
      var val = document.createElementNS(NS, "text"); val.setAttribute("x", String(labelW + w + 6)); val.setAttribute("y", String(y + 14));
      val.setAttribute("class", "value"); val.textContent = String(values[k]); svg.appendChild(val);
    });
    return svg;
  }

  function report(view) {
    view.appendChild(el("h1", { id: "view-title", tabindex: "-1", text: t("report_title") }));
    var now = new Date();
    var month = el("input", { id: "report-month", type: "month", value: now.getFullYear() + "-" + ("0" + (now.getMonth() + 1)).slice(-2) });
    var out = el("div", { id: "report-body" });
    var form = el("form", { class: "month-nav", id: "report-form" }, [el("label", { for: "report-month", text: t("month") }), month,
      el("button", { type: "submit", class: "primary", text: t("show") }),
      el("button", { type: "button", id: "download-csv", text: t("download_csv"), onclick: async function () {
        try {
          var csv = await api("GET", "stats?format=csv&month=" + encodeURIComponent(month.value));
          var a = el("a", { href: URL.createObjectURL(new Blob([csv], { type: "text/csv" })), download: "sos1379-" + month.value + ".csv" });
          document.body.appendChild(a); a.click(); a.remove();
        } catch (err) { if (err.status !== 401) announce(problemText(err)); }
      } })]);
    form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
    view.appendChild(form); view.appendChild(out);
    async function load() {
      clear(out);
      try {
        var s = await api("GET", "stats?month=" + encodeURIComponent(month.value));
        var fg = s.sla.first_guidance;
        var cards = [["cases", String(s.total)], ["within", fg.compliance === null ? "-" : Math.round(fg.compliance * 100) + "%"],
          ["median", s.first_guidance_business_days.median === null ? "-" : String(s.first_guidance_business_days.median)],
          ["satisfaction", s.satisfaction.mean === null ? "-" : s.satisfaction.mean + " (" + s.satisfaction.count + ")"]];
        out.appendChild(el("dl", { class: "stats", id: "report-figures" }, cards.map(function (c) {
          return el("div", { class: "stat", "data-figure": c[0] }, [el("dt", { text: t(c[0]) }), el("dd", {}, [el("span", { class: "big", text: c[1] })])]); })));
        var dims = [["by_channel", "by_channel", "channels"], ["by_service", "by_service_type", "services"], ["by_region", "by_region", null],
          ["by_institute", "by_institute", "institutes"], ["by_status", "by_status", "statuses"]];
        var grid = el("div", { class: "dims" });
        dims.forEach(function (d) {
          var title = t(d[0]);
          grid.appendChild(el("figure", { class: "chart-box", "data-chart": d[1] }, [el("figcaption", {}, [el("strong", { text: title })]),
            barChart(title, s[d[1]], function (k) { return d[2] ? name(d[2], k) : k; })]));
        });
        out.appendChild(grid);
      } catch (err) { if (err.status !== 401) out.appendChild(el("p", { class: "notice error", text: problemText(err) })); }
    }
    load();
  }

  // ------------------------------------------------------------------ boot
  document.addEventListener("DOMContentLoaded", function () {
    $("boot").hidden = true;
    $("logout").addEventListener("click", function () { signOut(); });
    var params = new URLSearchParams(location.search);
    if (params.get("code") && DATA.login.mode === "cognito") { finishCognito(params); return; }
    var saved = sessionStorage.getItem(TOKEN_KEY);
    var claims = saved && decodeClaims(saved);
    if (claims && claims.exp * 1000 > Date.now() && roleOf(claims)) { state.token = saved; state.claims = claims; start(); }
    else showLogin();
  });
})();
