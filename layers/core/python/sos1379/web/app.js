/* SOS 1379 public pages: the intake form and the tracking page. Plain ES2017, no build step.
   Every piece of server data is put on the page with textContent (never innerHTML), so nothing a
   user or an institute typed can become markup. */
(function () {
  "use strict";

  var data = JSON.parse(document.getElementById("page-data").textContent);
  var lang = data.lang === "en" ? "en" : "ko";
  var onLanguage = [];  // re-renderers of dynamic content, run after a language switch
  var languageChosen = false;  // ?lang= or a saved choice; else the tracking page follows the case

  // ------------------------------------------------------------------ i18n

  function tIn(l, key, vars) {
    var text = (data.i18n[l] && data.i18n[l][key]) || data.i18n.ko[key] || key;
    if (vars) {
      Object.keys(vars).forEach(function (name) { text = text.split("{" + name + "}").join(String(vars[name])); });
    }
    return text;
  }
  function t(key, vars) { return tIn(lang, key, vars); }
  function both(key, vars) { return { ko: tIn("ko", key, vars), en: tIn("en", key, vars) }; }
  function pick(pair) {
    if (pair == null) { return ""; }
    if (typeof pair === "string") { return pair; }
    return pair[lang] || pair.ko || pair.en || "";
  }
  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text != null) { node.textContent = text; }
    return node;
  }

  function applyLanguage(next, remember) {
    lang = next === "en" ? "en" : "ko";
    document.documentElement.lang = lang;
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n]"), function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    Array.prototype.forEach.call(document.querySelectorAll("[data-i18n-attr]"), function (node) {
      node.getAttribute("data-i18n-attr").split(";").forEach(function (pair) {
        var parts = pair.split(":");
        node.setAttribute(parts[0], t(parts[1]));
      });
    });
    var other = lang === "ko" ? "en" : "ko";
    var sw = $("lang-switch");
    sw.textContent = t("common.switch_label");
    sw.setAttribute("lang", other);
    sw.setAttribute("hreflang", other);
    var url = new URL(window.location.href);
    url.searchParams.set("lang", other);
    sw.setAttribute("href", url.pathname.split("/").pop() + url.search);
    if (remember) {
      url.searchParams.set("lang", lang);
      window.history.replaceState(null, "", url.pathname + url.search + url.hash);
      try { window.localStorage.setItem("sos1379.lang", lang); } catch (e) { /* private mode */ }
    }
    onLanguage.forEach(function (fn) { fn(); });
  }

  function initLanguage() {
    $("lang-switch").addEventListener("click", function (event) {
      event.preventDefault();
      applyLanguage(lang === "ko" ? "en" : "ko", true);
    });
    var fromUrl = new URL(window.location.href).searchParams.get("lang");
    var saved = null;
    try { saved = window.localStorage.getItem("sos1379.lang"); } catch (e) { /* private mode */ }
    languageChosen = !!(fromUrl || saved);
    applyLanguage(fromUrl || saved || lang, false);
  }

  // ------------------------------------------------------------------ dates (always Korean time)

  function formatKst(iso) {
    var date = new Date(iso);
    if (isNaN(date.getTime())) { return ""; }
    var text = new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-GB", {
      timeZone: "Asia/Seoul", year: "numeric", month: "long", day: "numeric", weekday: "short",
      hour: "2-digit", minute: "2-digit", hour12: lang === "ko"
    }).format(date);
    return text + (lang === "ko" ? " (한국 시간)" : " (Korea time)");
  }
  function timeEl(iso) {
    var node = el("time", null, formatKst(iso));
    node.setAttribute("datetime", iso);
    return node;
  }

  // ------------------------------------------------------------------ equipment (shared by both pages)

  function slotText(start, end) {
    var from = new Date(start), to = new Date(end);
    if (isNaN(from.getTime()) || isNaN(to.getTime())) { return ""; }
    var day = new Intl.DateTimeFormat(lang === "ko" ? "ko-KR" : "en-GB", {
      timeZone: "Asia/Seoul", month: "long", day: "numeric", weekday: "short"
    }).format(from);
    var hm = function (d) {
      return new Intl.DateTimeFormat("en-GB", { timeZone: "Asia/Seoul", hour: "2-digit", minute: "2-digit", hour12: false }).format(d);
    };
    return day + " " + hm(from) + "–" + hm(to);
  }
  function feeText(fee) {
    if (!fee || typeof fee.amount_krw !== "number") { return ""; }
    return t(fee.unit === "sample" ? "equip.fee_sample" : "equip.fee_hour",
      { amount: fee.amount_krw.toLocaleString(lang === "ko" ? "ko-KR" : "en-GB") });
  }
  function equipmentName(item) { return (lang === "en" && (item.name_en || item.equipment_name_en)) || item.name || item.equipment_name || ""; }
  function instituteLabel(item) {
    var names = item.institute_name || (data.institutes && data.institutes[item.institute]);
    return (names && pick(names)) || item.institute || "";
  }
  function searchEquipment(q, size) {
    return fetch("equipment?" + new URLSearchParams({ q: q, page_size: String(size) }),
      { headers: { "Accept": "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        return readJson(response).then(function (json) { return { ok: response.ok, json: json }; });
      });
  }

  // ------------------------------------------------------------------ field errors

  // An error is {field: "company.business_number", msg: {ko, en}}; API errors keep both languages
  // so a language switch re-renders them without another request.
  var shownErrors = [];

  function idFor(path) { return path.replace(/\./g, "-"); }

  function findField(path) {
    var parts = path.split(".");
    while (parts.length) {  // contact.preferred_channels.0 -> contact.preferred_channels
      var id = idFor(parts.join("."));
      if ($("e-" + id) && $("f-" + id)) { return id; }
      parts.pop();
    }
    return null;
  }

  function controlsOf(id) {
    var control = $("f-" + id);
    if (control.tagName === "FIELDSET") { return Array.prototype.slice.call(control.querySelectorAll("input")); }
    return [control];
  }

  function focusTarget(id) {
    var controls = controlsOf(id);
    var checked = controls.filter(function (c) { return c.checked; });
    return checked[0] || controls[0];
  }

  // The field's visible name (label or legend text without the "*"), for the error summary.
  function fieldLabel(id) {
    var control = $("f-" + id);
    var holder = control.tagName === "FIELDSET" ? control.querySelector("legend") :
      document.querySelector("label[for='f-" + id + "']");
    if (!holder) { return ""; }
    var named = holder.querySelector("[data-i18n]") || holder;
    return named.textContent.trim();
  }

  function clearErrors(form) {
    shownErrors = shownErrors.filter(function (err) { return !form.contains($("f-" + err.id)); });
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (node) {
      node.textContent = ""; node.hidden = true;
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (node) {
      node.removeAttribute("aria-invalid");
    });
    var summary = $("error-summary");
    if (summary && form.id === "case-form") { summary.hidden = true; $("error-summary-list").textContent = ""; }
  }

  function renderErrors() {
    var list = $("error-summary-list");
    if (list) { list.textContent = ""; }
    shownErrors.forEach(function (err) {
      var node = $("e-" + err.id);
      node.textContent = pick(err.msg);
      node.hidden = false;
      var fieldset = $("f-" + err.id);
      if (fieldset.tagName === "FIELDSET") { fieldset.setAttribute("aria-invalid", "true"); }
      controlsOf(err.id).forEach(function (c) {
        c.setAttribute("aria-invalid", "true");
        var described = (c.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (described.indexOf("e-" + err.id) < 0) {
          described.push("e-" + err.id);
          c.setAttribute("aria-describedby", described.join(" "));
        }
      });
      if (list && $("case-form").contains(fieldset)) {
        var name = fieldLabel(err.id);
        var message = pick(err.msg);
        var link = el("a", null, name && message.indexOf(name) < 0 ? name + ": " + message : message);
        link.href = "#f-" + err.id;
        link.addEventListener("click", function (event) { event.preventDefault(); focusTarget(err.id).focus(); });
        var item = el("li");
        item.appendChild(link);
        list.appendChild(item);
      }
    });
    if (list) { $("error-summary").hidden = list.children.length === 0; }
  }

  /** Show errors next to their fields; those without a field go to ``formError``. Focus moves to
   *  the first invalid control in page order. Returns true when any error was shown. */
  function showErrors(form, errors, formError) {
    var unplaced = [];
    errors.forEach(function (err) {
      var id = findField(err.field);
      if (id && form.contains($("f-" + id))) {
        if (!shownErrors.some(function (e) { return e.id === id; })) { shownErrors.push({ id: id, msg: err.msg }); }
      } else {
        unplaced.push(err);
      }
    });
    shownErrors.sort(function (a, b) {
      return $("f-" + a.id).compareDocumentPosition($("f-" + b.id)) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1;
    });
    renderErrors();
    if (unplaced.length && formError) {
      showFormError(formError, unplaced.map(function (e) {
        return { ko: e.field + ": " + e.msg.ko, en: e.field + ": " + e.msg.en };
      }));
    }
    var first = shownErrors.filter(function (e) { return form.contains($("f-" + e.id)); })[0];
    if (first) { focusTarget(first.id).focus(); } else if (unplaced.length && formError) { $(formError).focus(); }
    return errors.length > 0;
  }

  var formErrors = {};  // element id -> list of {ko, en}
  function showFormError(id, messages) {
    formErrors[id] = messages;
    var node = $(id);
    node.textContent = messages.map(pick).join(" ");
    node.hidden = false;
    node.setAttribute("tabindex", "-1");
  }
  function hideFormError(id) { delete formErrors[id]; $(id).hidden = true; $(id).textContent = ""; }
  onLanguage.push(function () {
    renderErrors();
    Object.keys(formErrors).forEach(function (id) { $(id).textContent = formErrors[id].map(pick).join(" "); });
  });

  function apiErrors(problem) {
    return (problem && problem.errors || []).map(function (e) {
      return { field: e.field || "body", msg: { ko: e.message_ko || e.message_en || "", en: e.message_en || e.message_ko || "" } };
    });
  }
  function problemText(problem, fallbackKey) {
    if (problem && (problem.detail_ko || problem.detail)) {
      return { ko: problem.detail_ko || problem.title_ko || problem.detail, en: problem.detail || problem.title };
    }
    return both(fallbackKey);
  }

  function readJson(response) {
    return response.text().then(function (text) {
      try { return text ? JSON.parse(text) : null; } catch (e) { return null; }
    });
  }

  // A random v4 UUID; crypto.randomUUID needs a secure context, getRandomValues does not.
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    var b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // ------------------------------------------------------------------ intake page


  // ------------------------------------------------------------------ attachments
  // Files go straight to S3: the API hands out a presigned POST (exact key, type, size range);
  // the bucket's origin is in the page's connect-src. Limits mirror sos1379.attachments (the API
  // and S3 are the judges).
  var ATTACH_TYPES = { "image/jpeg": 10, "image/png": 10, "application/pdf": 20 };
  var ATTACH_MAX = 5;

  function attachmentErrors(field, files) {
    var errors = [];
    if (files.length > ATTACH_MAX) { errors.push({ field: field, msg: both("attach.too_many", { max: ATTACH_MAX }) }); }
    files.forEach(function (f) {
      var limit = ATTACH_TYPES[f.type];
      if (!limit) { errors.push({ field: field, msg: both("attach.bad_type", { name: f.name }) }); }
      else if (f.size > limit * 1024 * 1024) {
        errors.push({ field: field, msg: both("attach.too_large", { name: f.name, limit: limit }) });
      }
    });
    return errors;
  }

  function uploadOne(caseId, token, file, purpose) {
    var body = { filename: file.name, content_type: file.type, size: file.size };
    if (purpose) { body.purpose = purpose; }
    return fetch("cases/" + encodeURIComponent(caseId) + "/attachments", {
      method: "POST", credentials: "same-origin", body: JSON.stringify(body),
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-Tracking-Token": token }
    }).then(function (response) {
      if (response.status !== 201) { throw new Error("slot " + response.status); }
      return response.json();
    }).then(function (slot) {
      var form = new FormData();
      Object.keys(slot.upload.fields).forEach(function (name) { form.append(name, slot.upload.fields[name]); });
      form.append(slot.upload.file_field || "file", file);
      return fetch(slot.upload.url, { method: "POST", body: form, credentials: "omit", referrerPolicy: "no-referrer" })
        .then(function (response) {
          if (!response.ok) { throw new Error("upload " + response.status); }
          return slot;
        });
    });
  }

  // Uploads one file after the other; each gets a line in ``list`` that follows its progress.
  function uploadFiles(caseId, token, files, purpose, list) {
    return files.reduce(function (chain, file) {
      return chain.then(function (done) {
        var line = el("li", "attach-line", t("attach.uploading", { name: file.name }));
        if (list) { list.appendChild(line); }
        return uploadOne(caseId, token, file, purpose).then(function () {
          line.textContent = t("attach.uploaded", { name: file.name });
          line.setAttribute("data-state", "uploaded");
          return done.concat([true]);
        }, function () {
          line.textContent = t("attach.failed", { name: file.name });
          line.setAttribute("data-state", "failed");
          return done.concat([false]);
        });
      });
    }, Promise.resolve([]));
  }

  function selectedFiles(input) { return input && input.files ? Array.prototype.slice.call(input.files) : []; }

  function initIntake() {
    var form = $("case-form");
    var contactLanguageTouched = false;

    function renderServices() {
      var box = $("service-options");
      var current = (form.querySelector("input[name=service_type]:checked") || {}).value;
      box.textContent = "";
      data.services.forEach(function (s) {
        var label = el("label", "choice");
        var input = el("input");
        input.type = "radio"; input.name = "service_type"; input.value = s.code; input.required = true;
        input.checked = s.code === current;
        input.setAttribute("aria-describedby", "h-service_type e-service_type");
        var text = el("span");
        text.appendChild(el("span", "name", pick(s.name)));
        text.appendChild(el("span", "desc", pick(s.description)));
        label.appendChild(input); label.appendChild(text);
        box.appendChild(label);
      });
    }
    function renderRegions() {
      var select = $("f-company-region");
      var current = select.value;
      select.textContent = "";
      var placeholder = el("option", null, t("company.region_placeholder"));
      placeholder.value = "";
      select.appendChild(placeholder);
      data.regions.forEach(function (r) {
        var option = el("option", null, lang === "ko" ? r.ko : r.en + " (" + r.ko + ")");
        option.value = r.code;
        select.appendChild(option);
      });
      select.value = current;
    }
    function renderCounter() {
      var n = $("f-description").value.trim().length;
      $("c-description").textContent = t("description.counter", { n: n.toLocaleString(), max: "5,000" });
    }
    function syncContactLanguage() { if (!contactLanguageTouched) { $("f-contact-language").value = lang; } }

    onLanguage.push(renderServices, renderRegions, renderCounter, syncContactLanguage, renderSuccess);
    renderServices(); renderRegions(); renderCounter();
    $("f-description").addEventListener("input", renderCounter);
    $("f-contact-language").addEventListener("change", function () { contactLanguageTouched = true; });

    var mobile = navigator.userAgentData ? navigator.userAgentData.mobile : /Mobi|Android|iPhone/i.test(navigator.userAgent);
    $("f-channel").value = mobile ? "mobile" : "web";

    $("f-company-business_number").addEventListener("blur", function (event) {
      var digits = event.target.value.replace(/\D/g, "");
      if (digits.length === 10) {
        event.target.value = digits.slice(0, 3) + "-" + digits.slice(3, 5) + "-" + digits.slice(5);
      }
    });

    // Equipment use: as the SME describes the need, suggest bookable instruments (debounced; the
    // newest answer wins). Booking itself happens on the tracking page, once the case exists.
    var suggestTimer = null, suggestSeq = 0;
    function suggestEquipment() {
      window.clearTimeout(suggestTimer);
      var type = (form.querySelector("input[name=service_type]:checked") || {}).value;
      var q = ((form.elements.title.value || "") + " " + (form.elements.description.value || "")).trim().slice(0, 300);
      if (type !== "equipment" || q.length < 2) { $("equipment-suggest").hidden = true; return; }
      suggestTimer = window.setTimeout(function () {
        var seq = ++suggestSeq;
        searchEquipment(q, 5).then(function (answer) {
          if (seq !== suggestSeq) { return; }
          var items = answer.ok && answer.json ? answer.json.items || [] : [];
          var list = $("equipment-suggestions");
          list.textContent = "";
          items.forEach(function (item) {
            var li = el("li", "equipment");
            li.appendChild(el("strong", null, equipmentName(item)));
            li.appendChild(el("span", "block", [instituteLabel(item), item.location || ""].filter(Boolean).join(" · ")));
            li.appendChild(el("span", "block", feeText(item.fee)));
            var first = (item.available_slots || [])[0];
            li.appendChild(el("span", "hint block", first ? t("equip.first_slot", { slot: slotText(first.start, first.end) })
              : t("equip.no_slots")));
            list.appendChild(li);
          });
          $("equipment-suggest").hidden = items.length === 0;
        }, function () { /* suggestions are a convenience */ });
      }, 350);
    }
    form.elements.title.addEventListener("input", suggestEquipment);
    form.elements.description.addEventListener("input", suggestEquipment);
    $("service-options").addEventListener("change", suggestEquipment);

    function value(name) { return (form.elements[name].value || "").trim(); }
    function checkedValues(name) {
      return Array.prototype.filter.call(form.querySelectorAll("input[name='" + name + "']"), function (c) {
        return c.checked;
      }).map(function (c) { return c.value; });
    }

    function collect() {
      var company = {
        name: value("company.name"), business_number: value("company.business_number"),
        region: $("f-company-region").value, size: checkedValues("company.size")[0] || ""
      };
      if (value("company.industry")) { company.industry = value("company.industry"); }
      return {
        channel: $("f-channel").value,
        service_type: checkedValues("service_type")[0] || "",
        title: value("title"),
        description: value("description"),
        company: company,
        contact: {
          name: value("contact.name"), phone: value("contact.phone"), email: value("contact.email"),
          preferred_channels: checkedValues("contact.preferred_channels"), language: $("f-contact-language").value
        },
        consent: {
          personal_info: $("f-consent-personal_info").checked,
          share_with_institutes: $("f-consent-share_with_institutes").checked
        }
      };
    }

    // Hints only: the API is the judge (the business number's check digit, for one, is checked
    // there and its error is shown next to the field like any other).
    function validate(p) {
      var errors = [];
      function need(field, ok, key, vars) { if (!ok) { errors.push({ field: field, msg: both(key, vars) }); } }
      function text(field, v, min, max) {
        if (!v) { need(field, false, "errors.required"); } else if (v.length < min) {
          need(field, false, "errors.too_short", { n: min });
        } else if (v.length > max) { need(field, false, "errors.too_long", { n: max }); }
      }
      need("service_type", p.service_type, "errors.select_service");
      text("title", p.title, 2, 200);
      text("description", p.description, 10, 5000);
      text("company.name", p.company.name, 1, 100);
      if (!p.company.business_number) { need("company.business_number", false, "errors.required"); } else {
        need("company.business_number", p.company.business_number.replace(/[\s-]/g, "").match(/^\d{10}$/),
          "errors.business_number_format");
      }
      need("company.region", p.company.region, "errors.select_region");
      need("company.size", p.company.size, "errors.select_size");
      text("contact.name", p.contact.name, 1, 50);
      if (!p.contact.phone) { need("contact.phone", false, "errors.required"); } else {
        need("contact.phone", /^(\+82[\s-]?|0)1[016789][\s-]?\d{3,4}[\s-]?\d{4}$/.test(p.contact.phone), "errors.phone");
      }
      if (!p.contact.email) { need("contact.email", false, "errors.required"); } else {
        need("contact.email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(p.contact.email), "errors.email");
      }
      need("contact.preferred_channels", p.contact.preferred_channels.length > 0, "errors.channels");
      need("consent.personal_info", p.consent.personal_info, "errors.consent");
      return errors.concat(attachmentErrors("attachments", selectedFiles($("f-attachments"))));
    }

    // One Idempotency-Key per distinct body: a double click, a retry after a network error or a
    // 503 reuses it (the server answers with the first case); an edited form gets a new key.
    var attempt = { body: null, key: null };
    var inFlight = false;
    var receipt = null;

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (inFlight) { return; }
      clearErrors(form);
      hideFormError("form-error");
      var payload = collect();
      if (showErrors(form, validate(payload), "form-error")) { return; }
      var body = JSON.stringify(payload);
      if (body !== attempt.body) { attempt = { body: body, key: newKey() }; }
      inFlight = true;
      var button = $("submit");
      button.disabled = true;
      button.textContent = t("intake.submitting");
      form.setAttribute("aria-busy", "true");
      fetch("cases", {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json", "Idempotency-Key": attempt.key }
      }).then(function (response) {
        return readJson(response).then(function (json) {
          if (response.status === 201 || response.status === 200) {
            receipt = json;
            showSuccess();
          } else if (response.status === 422 && json && /idempotency-key-reused$/.test(json.type || "")) {
            attempt = { body: null, key: null };
            showFormError("form-error", [both("errors.idempotency")]);
            $("form-error").focus();
          } else if (response.status === 422 || response.status === 400) {
            var errors = apiErrors(json);
            if (!errors.length) { errors = [{ field: "body", msg: problemText(json, "errors.other") }]; }
            showErrors(form, errors, "form-error");
          } else {
            showFormError("form-error", [response.status >= 500 || response.status === 429 ?
              both("errors.server") : problemText(json, "errors.server")]);
            $("form-error").focus();
          }
        });
      }).catch(function () {
        showFormError("form-error", [both("errors.network")]);
        $("form-error").focus();
      }).then(function () {
        inFlight = false;
        button.disabled = false;
        button.textContent = t("intake.submit");
        form.removeAttribute("aria-busy");
      });
    });

    function trackHref() {
      return "track?" + new URLSearchParams({ "case": receipt.case_id, token: receipt.tracking_token, lang: lang }).toString();
    }
    function renderSuccess() {
      if (!receipt) { return; }
      $("success-case-number").textContent = receipt.case_number;
      $("success-due").textContent = formatKst(receipt.guidance_due_at);
      $("success-track").setAttribute("href", trackHref());
    }
    // "Is this the same problem?": the receipt names the company's similar recent cases. The page
    // holds only this case's token, so "add to the earlier case" is a merge *request* on this case
    // (POST /cases/{id}/merge-request); a coordinator confirms and merges.
    function renderDuplicates() {
      var dups = (receipt && receipt.possible_duplicates) || [];
      $("duplicates").hidden = dups.length === 0;
      var list = $("dup-list");
      while (list.firstChild) { list.removeChild(list.firstChild); }
      dups.forEach(function (d) {
        list.appendChild(el("li", null, t("dup.item", { case_number: d.case_number,
          percent: Math.round(d.title_similarity * 100) })));
      });
    }
    function dupDone(key, vars) {
      $("dup-merge").disabled = true;
      $("dup-new").disabled = true;
      $("dup-status").textContent = t(key, vars);
    }
    $("dup-merge").addEventListener("click", function () {
      var into = receipt.possible_duplicates[0].case_number;
      fetch("cases/" + encodeURIComponent(receipt.case_id) + "/merge-request", {
        method: "POST", credentials: "same-origin", body: JSON.stringify({ into: into }),
        headers: { "Content-Type": "application/json", "Accept": "application/json",
          "X-Tracking-Token": receipt.tracking_token }
      }).then(function (response) {
        if (response.ok) { dupDone("dup.requested", { case_number: into }); }
        else { $("dup-status").textContent = t("dup.failed"); }
      }).catch(function () { $("dup-status").textContent = t("dup.failed"); });
    });
    $("dup-new").addEventListener("click", function () { dupDone("dup.kept"); });
    onLanguage.push(function () { if (receipt) { renderDuplicates(); } });

    function showSuccess() {
      renderSuccess();
      renderDuplicates();
      var files = selectedFiles($("f-attachments"));
      if (files.length) {
        $("attach-result").hidden = false;
        uploadFiles(receipt.case_id, receipt.tracking_token, files, "intake", $("attach-progress"));
      }
      $("intake").hidden = true;
      $("success").hidden = false;
      document.title = t("success.title") + " | " + t("intake.doc_title");
      window.scrollTo(0, 0);
      $("success-title").focus();
    }
    $("copy-link").addEventListener("click", function () {
      var url = new URL(trackHref(), document.baseURI).href;
      var done = function (key) { $("copy-status").textContent = t(key); };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(url).then(function () { done("success.copied"); },
          function () { done("success.copy_failed"); });
      } else { done("success.copy_failed"); }
    });
  }

  // ------------------------------------------------------------------ lost-link recovery

  // POST cases/recover answers the same 202 whether or not the details matched, so the page says
  // the same thing either way; the new link goes to the contact on file, never to this browser.
  function initRecover() {
    var form = $("recover-form");
    var fieldOf = { case_number: "recover.case_number", phone: "recover.contact", email: "recover.contact" };
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors(form);
      hideFormError("recover-error");
      var number = $("f-recover-case_number").value.trim();
      var contact = $("f-recover-contact").value.trim();
      var errors = [];
      if (!/^[0-9]{6}-[0-9]{4}$/.test(number)) { errors.push({ field: "recover.case_number", msg: both("recover.invalid_case") }); }
      if (!contact) { errors.push({ field: "recover.contact", msg: both("recover.contact_required") }); }
      if (errors.length) { showErrors(form, errors, "recover-error"); return; }
      var body = { case_number: number };
      body[contact.indexOf("@") >= 0 ? "email" : "phone"] = contact;
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      fetch("cases/recover", {
        method: "POST", body: JSON.stringify(body), credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" }
      }).then(function (response) {
        return readJson(response).then(function (json) {
          if (response.status === 202) {
            form.hidden = true;
            $("recover-done").hidden = false;
            $("recover-done").focus();
          } else if (response.status === 422 && json && json.errors) {
            showErrors(form, apiErrors(json).map(function (e) {
              return { field: fieldOf[e.field] || e.field, msg: e.msg };
            }), "recover-error");
          } else if (response.status === 429) {
            showFormError("recover-error", [both("recover.too_many")]);
            $("recover-error").focus();
          } else {
            showFormError("recover-error", [problemText(json, "track.failed")]);
            $("recover-error").focus();
          }
        });
      }, function () {
        showFormError("recover-error", [both("track.failed")]);
        $("recover-error").focus();
      }).then(function () { button.disabled = false; });
    });
  }

  // ------------------------------------------------------------------ tracking page

  var STEP_OF = { received: 0, triaged: 1, referred: 1, accepted: 2, in_progress: 2, info_requested: 2,
    resolved: 3, closed: 4 };
  var STEPS = ["received", "review", "progress", "resolved", "closed"];
  var OPEN = ["received", "triaged", "referred", "accepted", "in_progress", "info_requested"];

  function initTrack() {
    var params = new URL(window.location.href).searchParams;
    var caseId = params.get("case");
    var token = params.get("token");
    var view = null;
    var timer = null;

    $("lookup-form").addEventListener("submit", function (event) {
      event.preventDefault();
      clearErrors($("lookup-form"));
      var raw = $("f-lookup-link").value.trim();
      var found = null;
      try {
        var u = new URL(raw, document.baseURI);
        if (u.searchParams.get("case") && u.searchParams.get("token")) { found = u.searchParams; }
      } catch (e) { found = null; }
      if (!found) {
        showErrors($("lookup-form"), [{ field: "lookup.link", msg: both("track.lookup_invalid") }]);
        return;
      }
      window.location.href = "track?" + new URLSearchParams({ "case": found.get("case"), token: found.get("token"), lang: lang });
    });

    initRecover();
    if (!caseId || !token) {
      $("lookup-form").hidden = false;
      $("recover-box").hidden = false;
      return;
    }

    function headers(extra) {
      var h = { "Accept": "application/json", "X-Tracking-Token": token };
      Object.keys(extra || {}).forEach(function (k) { h[k] = extra[k]; });
      return h;
    }
    function caseUrl(suffix) { return "cases/" + encodeURIComponent(caseId) + (suffix || ""); }

    function load(announce) {
      var first = view === null;
      if (first) { $("track-loading").hidden = false; }
      return fetch(caseUrl(), { headers: headers(), cache: "no-store", credentials: "same-origin" })
        .then(function (response) {
          return readJson(response).then(function (json) {
            if (response.ok && json) {
              var before = view && view.status;
              if (first && !languageChosen && (json.language === "en" || json.language === "ko") && json.language !== lang) {
                applyLanguage(json.language, false);
              }
              view = json;
              hideFormError("track-error");
              render();
              $("case-view").hidden = false;
              if (announce && before && before !== view.status) {
                $("live").textContent = t("track.status_changed", { status: statusLabel() });
              }
            } else if (response.status === 404) {
              view = null;
              $("case-view").hidden = true;
              showFormError("track-error", [both("track.not_found")]);
              $("lookup-form").hidden = false;
              $("recover-box").hidden = false;
            } else {
              showFormError("track-error", [both("track.failed")]);
            }
          });
        }, function () { showFormError("track-error", [both("track.failed")]); })
        .then(function () { $("track-loading").hidden = true; schedule(); });
    }

    // Follow the case while it is open: poll gently, only while the tab is visible.
    function schedule() {
      window.clearTimeout(timer);
      if (view && OPEN.indexOf(view.status) >= 0) {
        timer = window.setTimeout(function () {
          if (document.visibilityState === "visible") { load(true); } else { schedule(); }
        }, 20000);
      }
    }

    function statusLabel() { return pick(view.status_label) || pick(data.status_labels[view.status]) || view.status; }

    function instituteName(ref) {
      if (!ref) { return ""; }
      if (typeof ref === "string") { return pick(data.institutes[ref]) || ref; }
      return (lang === "en" ? ref.name_en : ref.name_ko) || pick(data.institutes[ref.code]) || ref.code || "";
    }

    function history() { return view.history || []; }
    function happened(type) { return history().some(function (e) { return e.type === type; }); }

    function render() {
      if (!view) { return; }
      $("v-case-number").textContent = view.case_number;
      $("v-title").textContent = view.title || "";
      $("v-service").textContent = pick(view.service_name) || pick(data.services[view.service_type]) || "";
      $("v-status").textContent = statusLabel();
      var help = data.i18n[lang]["status_help." + view.status];
      $("v-status-help").textContent = help || "";
      $("v-due").textContent = formatKst(view.guidance_due_at);
      $("updated-at").textContent = t("track.updated", { time: formatKst(new Date().toISOString()) });

      var active = (view.referrals || []).filter(function (r) { return ["declined", "superseded"].indexOf(r.status) < 0; });
      $("v-institute").textContent = active.length ? active.map(function (r) {
        return (lang === "en" ? r.name_en : r.name_ko) || instituteName(r.institute);
      }).join(", ") : t("track.institute_none");

      renderVerify();
      renderSteps();
      renderHandoff();
      renderRequest();
      renderOutcome();
      renderRating();
      renderFollowUp();
      renderEquipment();
      renderHistory();
      loadAttachments();
    }

    // Equipment: the case's bookings (status, calendar file, cancel / accept a proposal) and, while
    // the case is open, search with free slots and a booking form.
    var chosen = null;
    function reservationPath(r, action) {
      return "/reservations/" + encodeURIComponent(r.reservation_id) + "/" + action;
    }
    function reservationAction(r, action) {
      $("reservation-status").textContent = "";
      return fetch(caseUrl(reservationPath(r, action)), {
        method: "POST", body: "{}", credentials: "same-origin",
        headers: headers({ "Content-Type": "application/json" })
      }).then(function (response) {
        return readJson(response).then(function (json) {
          if (!response.ok) { $("reservation-status").textContent = pick(problemText(json, "equip.failed")); }
          return load(false);
        });
      }, function () { $("reservation-status").textContent = t("equip.failed"); });
    }
    function renderEquipment() {
      var reservations = view.reservations || [];
      var show = view.service_type === "equipment" || reservations.length > 0;
      $("equipment-box").hidden = !show;
      if (!show) { return; }
      $("equipment-booking").hidden = OPEN.indexOf(view.status) < 0;
      var list = $("reservations-list");
      list.textContent = "";
      reservations.slice().reverse().forEach(function (r) {
        var li = el("li", "reservation");
        li.setAttribute("data-status", r.status);
        li.appendChild(el("strong", null, equipmentName(r)));
        li.appendChild(el("span", "block", slotText(r.slot_start, r.slot_end)));
        li.appendChild(el("span", "block status", t("equip.status." + r.status)));
        if (r.previous_slot && r.status === "proposed") {
          li.appendChild(el("span", "hint block", t("equip.previous", { slot: slotText(r.previous_slot.start, r.previous_slot.end) })));
        }
        if (r.note_public) { li.appendChild(el("span", "block", r.note_public)); }
        var actions = el("p", "actions");
        var ics = el("a", "button", t("equip.calendar"));
        ics.href = caseUrl("/reservations/" + encodeURIComponent(r.reservation_id) + "/calendar.ics") + "?token=" + encodeURIComponent(token);
        ics.setAttribute("download", r.reservation_id + ".ics");
        actions.appendChild(ics);
        if (r.status === "proposed") {
          var accept = el("button", "primary", t("equip.accept"));
          accept.type = "button";
          accept.addEventListener("click", function () { reservationAction(r, "accept"); });
          actions.appendChild(accept);
        }
        if (["pending", "proposed", "confirmed"].indexOf(r.status) >= 0) {
          var cancel = el("button", "button", t("equip.cancel"));
          cancel.type = "button";
          cancel.addEventListener("click", function () { reservationAction(r, "cancel"); });
          actions.appendChild(cancel);
        }
        li.appendChild(actions);
        list.appendChild(li);
      });
    }
    function renderResults(items) {
      var box = $("equipment-results");
      box.textContent = "";
      $("equipment-status").textContent = items.length ? t("equip.found", { count: items.length }) : t("equip.none");
      items.forEach(function (item) {
        var li = el("li", "equipment");
        li.appendChild(el("h3", null, equipmentName(item)));
        li.appendChild(el("span", "block", [instituteLabel(item), item.location || ""].filter(Boolean).join(" · ")));
        li.appendChild(el("span", "block", feeText(item.fee)));
        var slots = item.available_slots || [];
        if (!slots.length) { li.appendChild(el("span", "hint block", t("equip.no_slots"))); }
        var group = el("div", "slots");
        group.setAttribute("role", "group");
        group.setAttribute("aria-label", t("equip.slots") + ": " + equipmentName(item));
        slots.slice(0, 8).forEach(function (slot) {
          var b = el("button", "slot", slotText(slot.start, slot.end));
          b.type = "button";
          b.setAttribute("aria-pressed", "false");
          b.addEventListener("click", function () { choose(item, slot, b); });
          group.appendChild(b);
        });
        li.appendChild(group);
        box.appendChild(li);
      });
    }
    function choose(item, slot, button) {
      chosen = { item: item, slot: slot };
      Array.prototype.forEach.call(document.querySelectorAll("#equipment-results .slot"), function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      $("booking-choice").textContent = t("equip.chosen", { equipment: equipmentName(item), slot: slotText(slot.start, slot.end) });
      $("booking-form").hidden = false;
      $("booking-done").hidden = true;
      $("f-purpose").focus();
    }
    $("equipment-search-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = $("equipment-search-form");
      clearErrors(form);
      var q = $("f-equipment_q").value.trim();
      if (!q) { showErrors(form, [{ field: "equipment_q", msg: both("equip.empty") }]); return; }
      $("equipment-status").textContent = t("equip.searching");
      searchEquipment(q, 5).then(function (answer) {
        if (!answer.ok) { $("equipment-status").textContent = pick(problemText(answer.json, "equip.failed")); return; }
        renderResults(answer.json.items || []);
      }, function () { $("equipment-status").textContent = t("equip.failed"); });
    });
    $("booking-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = $("booking-form");
      clearErrors(form);
      if (!chosen) { return; }
      var purpose = $("f-purpose").value.trim();
      var samples = parseInt($("f-samples").value, 10);
      var errors = [];
      if (purpose.length < 2) { errors.push({ field: "purpose", msg: both("equip.purpose_empty") }); }
      if (!(samples >= 1 && samples <= 100)) { errors.push({ field: "samples", msg: both("equip.samples_bad") }); }
      if (errors.length) { showErrors(form, errors, "booking-error"); return; }
      post("/reservations", { equipment_id: chosen.item.equipment_id, slot_start: chosen.slot.start,
        slot_end: chosen.slot.end, purpose: purpose, samples: samples }, "booking-error", form, function () {
        form.hidden = true;
        chosen = null;
        $("equipment-results").textContent = "";
        $("equipment-status").textContent = "";
        $("f-purpose").value = "";
        $("booking-done").hidden = false;
        $("booking-done").focus();
      });
    });

    // Files on the case: the SME's own (name and state) and the institutes' answer files, which
    // open through a presigned link fetched on click (valid a few minutes).
    function loadAttachments() {
      return fetch(caseUrl("/attachments"), { headers: headers(), cache: "no-store", credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (json) {
          var items = (json && json.attachments) || [];
          var list = $("attachments-list");
          while (list.firstChild) { list.removeChild(list.firstChild); }
          $("attachments-box").hidden = items.length === 0;
          items.forEach(function (a) {
            var fromInstitute = a.uploaded_by && a.uploaded_by.kind === "institute";
            var line = el("li", null, a.filename + " · " + t(fromInstitute ? "attach.from_institute" : "attach.from_you") +
              " · " + t("attach.status." + a.status));
            line.setAttribute("data-attachment", a.attachment_id);
            if (a.can_open) {
              var button = el("button", "link", t("attach.open"));
              button.type = "button";
              button.addEventListener("click", function () {
                fetch(caseUrl("/attachments/" + encodeURIComponent(a.attachment_id)),
                  { headers: headers(), cache: "no-store", credentials: "same-origin" })
                  .then(function (response) { return response.ok ? response.json() : null; })
                  .then(function (opened) { if (opened) { window.open(opened.url, "_blank", "noopener,noreferrer"); } });
              });
              line.appendChild(document.createTextNode(" "));
              line.appendChild(button);
            }
            list.appendChild(line);
          });
        }, function () { /* the list is a convenience: the rest of the page stands */ });
    }

    // Contact verification (sos1379.verification): until the SME types the code from the receipt,
    // later notices wait; the box says how many and takes the code.
    function renderVerify() {
      var cv = view.contact_verification || {};
      var pending = cv.pending || [];
      $("verify-box").hidden = pending.length === 0;
      if (!pending.length) { return; }
      var which = pending.length > 1 ? "both" : pending[0];
      $("verify-intro").textContent = t("verify.intro_" + which);
      $("verify-held").hidden = !cv.held_messages;
      $("verify-held").textContent = cv.held_messages ? t("verify.held", { count: cv.held_messages }) : "";
    }

    // The 30/90-business-day check-in (sos1379.followups): shown while a sent stage is unanswered.
    var followUpNote = null;
    function renderFollowUp() {
      var fu = view.follow_up || {};
      $("follow-up-box").hidden = !fu.pending_stage && !followUpNote;
      $("follow-up-form").hidden = !fu.pending_stage;
      $("follow-up-done").hidden = !followUpNote;
      if (followUpNote) { $("follow-up-done").textContent = t(followUpNote.key, followUpNote.vars); }
    }
    $("follow-up-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = $("follow-up-form");
      clearErrors(form);
      var chosen = form.querySelector("input[name=result]:checked");
      if (!chosen) { showErrors(form, [{ field: "result", msg: both("fu.choose") }], "follow-up-error"); return; }
      var body = { stage: view.follow_up.pending_stage, result: chosen.value,
        licensed: $("f-licensed").checked, funded: $("f-funded").checked };
      if ($("f-next").value) { body.next_service_type = $("f-next").value; }
      post("/follow-up", body, "follow-up-error", form, function (json) {
        followUpNote = json && json.next_case ? { key: "fu.next_opened", vars: { case_number: json.next_case.case_number } }
          : { key: "fu.thanks", vars: null };
      });
    });

    function renderSteps() {
      var list = $("steps");
      list.textContent = "";
      var note = $("steps-note");
      note.hidden = true;
      var special = view.status === "handed_off" || happened("case.handed_off") ? "track.handed_off_note" :
        view.status === "withdrawn" || happened("case.withdrawn") ? "track.withdrawn_note" : null;
      if (special) { note.textContent = t(special); note.hidden = false; }
      var current = STEP_OF[view.status];
      STEPS.forEach(function (step, index) {
        var item = el("li", null, t("steps." + step));
        if (current !== undefined && !special) {
          if (index < current || (view.status === "closed" && index === current)) { item.className = "done"; }
          if (index === current && view.status !== "closed") {
            item.setAttribute("aria-current", "step");
            item.appendChild(el("span", "visually-hidden", " " + t("track.current_step")));
          }
        }
        list.appendChild(item);
      });
    }

    function renderHandoff() {
      var h = view.handoff;
      $("handoff-box").hidden = !h;
      if (!h) { return; }
      $("v-handoff-name").textContent = (lang === "en" ? h.name_en : h.name_ko) || instituteName(h.code);
      var phone = $("v-handoff-phone");
      phone.textContent = pick(h.phone_text) || h.phone || "";
      phone.setAttribute("href", "tel:" + String(h.phone || "").replace(/[^0-9+]/g, ""));
      var web = $("v-handoff-url");
      web.textContent = h.url || "";
      // only http(s) links from the partner data, never another scheme
      web.setAttribute("href", /^https?:\/\//.test(h.url || "") ? h.url : "#");
      // what happens next, steps marked: the SME contacts the partner; the partner's pickup shows here
      var steps = $("handoff-steps");
      steps.textContent = "";
      var current = h.accepted || happened("case.partner_accepted") ? 2 : 0;
      ["handoff.step1", "handoff.step2", "handoff.step3"].forEach(function (key, index) {
        var item = el("li", index < current ? "done" : null, t(key));
        if (index === current) {
          item.setAttribute("aria-current", "step");
          item.appendChild(el("span", "visually-hidden", " " + t("track.current_step")));
        }
        steps.appendChild(item);
      });
    }

    function renderRequest() {
      var request = view.open_request;
      var box = $("request-box");
      if (view.status !== "info_requested" || !request) {
        if (!$("reply-done").hidden) { return; }  // keep the confirmation until the next request
        box.hidden = true;
        return;
      }
      box.hidden = false;
      $("reply-form").hidden = false;
      $("reply-done").hidden = true;
      $("request-question").textContent = typeof request === "string" ? request : (request.question || "");
      var meta = [];
      if (request.institute) { meta.push(instituteName(request.institute)); }
      if (request.asked_at) { meta.push(formatKst(request.asked_at)); }
      $("request-meta").textContent = meta.join(" · ");
    }

    function renderOutcome() {
      var outcome = view.outcome;
      var text = !outcome ? "" : typeof outcome === "string" ? outcome : pick(outcome.summary) || "";
      $("outcome-box").hidden = !text;
      $("outcome-text").textContent = text;
    }

    function renderRating() {
      // The API takes a rating once the case is resolved (or closed after it) and has an outcome.
      var eligible = (view.status === "resolved" || view.status === "closed") && !!view.outcome;
      var box = $("rating-box");
      box.hidden = !eligible && !view.rating;
      if (view.rating) {
        $("rating-form").hidden = true;
        var score = typeof view.rating === "object" ? view.rating.score : view.rating;
        var done = $("rating-done");
        done.hidden = false;
        done.textContent = t("rating.thanks") + " " + t("rating.your_score", { label: t("rating.s" + score) });
      } else {
        $("rating-form").hidden = false;
        $("rating-done").hidden = true;
      }
    }

    // Only known public event types get their words and a few whitelisted details; anything else
    // is shown as a bare "progress was updated", never with its data.
    function eventDetails(event) {
      var d = event.data || {};
      var out = [];
      // every institute of a referral, not only the first
      var refs = (d.institutes && d.institutes.length ? d.institutes : (d.institute ? [d.institute] : []));
      if (["case.referred", "case.accepted", "case.declined", "case.resolved", "case.info_requested",
        "case.handed_off"].indexOf(event.type) >= 0 && refs.length) {
        out.push(t("events.institute", { name: refs.map(instituteName).join(", ") }));
      }
      if ((event.type === "case.handed_off" || event.type === "case.partner_accepted") && d.partner) { out.push(t("events.institute", { name: instituteName(d.partner) })); }
      if (event.type === "case.info_requested" && typeof d.question === "string") { out.push(t("events.question", { text: d.question })); }
      if (event.type === "case.info_provided" && typeof d.answer === "string") { out.push(t("events.answer", { text: d.answer })); }
      if (event.type.indexOf("equipment.") === 0 && d.reservation && typeof d.reservation.equipment_name === "string") {
        out.push(t("events.equipment", { name: d.reservation.equipment_name,
          slot: slotText(d.reservation.slot_start, d.reservation.slot_end) }));
      }
      if ((event.type === "case.resolved" || event.type === "case.guidance_given") && typeof d.summary === "string") {
        out.push(t("events.summary", { text: d.summary }));
      }
      return out;
    }

    function renderHistory() {
      var list = $("history");
      list.textContent = "";
      history().slice().reverse().forEach(function (event) {
        var key = "events." + event.type;
        var known = Object.prototype.hasOwnProperty.call(data.i18n.ko, key);
        var item = el("li");
        item.appendChild(timeEl(event.at));
        item.appendChild(el("span", null, t(known ? key : "events.unknown")));
        if (known) { eventDetails(event).forEach(function (line) { item.appendChild(el("span", "detail", line)); }); }
        list.appendChild(item);
      });
    }

    function post(suffix, body, errorId, form, onDone) {
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      hideFormError(errorId);
      return fetch(caseUrl(suffix), {
        method: "POST", body: JSON.stringify(body), credentials: "same-origin",
        headers: headers({ "Content-Type": "application/json", "Idempotency-Key": newKey() })
      }).then(function (response) {
        return readJson(response).then(function (json) {
          if (response.ok) { onDone(json); return load(false); }
          if (response.status === 422 && json && json.errors) { showErrors(form, apiErrors(json), errorId); return null; }
          showFormError(errorId, [problemText(json, "track.failed")]);
          $(errorId).focus();
          return response.status === 409 ? load(false) : null;
        });
      }, function () {
        showFormError(errorId, [both("errors.network")]);
        $(errorId).focus();
      }).then(function () { button.disabled = false; });
    }

    $("reply-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = $("reply-form");
      clearErrors(form);
      var answer = $("f-answer").value.trim();
      if (!answer) { showErrors(form, [{ field: "answer", msg: both("request_info.empty") }], "reply-error"); return; }
      var files = selectedFiles($("f-reply_files"));
      var fileErrors = attachmentErrors("reply_files", files);
      if (fileErrors.length) { showErrors(form, fileErrors, "reply-error"); return; }
      // the files go first: they belong to the open request, which the reply closes
      uploadFiles(caseId, token, files, "reply", $("reply-progress")).then(function () {
        return post("/reply", { answer: answer }, "reply-error", form, function () {
          form.hidden = true;
          $("f-answer").value = "";
          $("f-reply_files").value = "";
          $("reply-done").hidden = false;
          $("reply-done").focus();
        });
      });
    });

    $("verify-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = $("verify-form");
      clearErrors(form);
      $("verify-resent").hidden = true;
      var code = $("f-code").value.replace(/[\s-]/g, "");
      if (!code) { showErrors(form, [{ field: "code", msg: both("verify.code_empty") }], "verify-error"); return; }
      post("/verify-contact", { code: code }, "verify-error", form, function () {
        $("f-code").value = "";
        $("verify-done").hidden = false;
        $("verify-done").focus();
      });
    });

    $("verify-resend").addEventListener("click", function () {
      var form = $("verify-form");
      clearErrors(form);
      post("/verify-contact/resend", {}, "verify-error", form, function () { $("verify-resent").hidden = false; });
    });

    $("rating-form").addEventListener("submit", function (event) {
      event.preventDefault();
      var form = $("rating-form");
      clearErrors(form);
      var chosen = form.querySelector("input[name=score]:checked");
      if (!chosen) { showErrors(form, [{ field: "score", msg: both("rating.choose") }], "rating-error"); return; }
      var body = { score: parseInt(chosen.value, 10) };
      var comment = $("f-comment").value.trim();
      if (comment) { body.comment = comment; }
      post("/rating", body, "rating-error", form, function () { $("rating-title").focus(); });
    });

    $("refresh").addEventListener("click", function () { load(true); });
    onLanguage.push(render);
    load(false);
  }

  initLanguage();
  if (document.body.getAttribute("data-page") === "intake") { initIntake(); } else { initTrack(); }
}());
