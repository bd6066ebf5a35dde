/* hrsync: the connection forms that test a connection (New connection,
 * Settings, Test connection). No framework; every page works without it.
 *
 *  - <form data-check-form data-check-seconds="N">: posted with fetch()
 *    (header X-Hrsync-Fetch) instead of a page load. While the server tests
 *    the connection the pressed button reads "Testing… (up to N seconds)",
 *    the form's buttons are disabled and its [data-check-progress] live
 *    region says so. The answer is either a page (a refused post: the
 *    failed test with Save anyway, or field errors), whose [data-swap]
 *    regions replace the same ids here, or an address (X-Hrsync-Location):
 *    this page again (its regions and flash messages are swapped in from a
 *    fresh copy) or another page, which is opened. Passwords and keys the
 *    admin typed stay in their fields: the server never sends them back.
 *  - <input data-scheme-source> (an address) and widgets with
 *    data-schemes="sftp https": a widget's .field row shows only while the
 *    address starts with one of its schemes (all show while it has none);
 *    a fieldset whose rows are all hidden is hidden too.
 *  - <select data-other-select> + the [data-other-value] after it (the
 *    "Other…" text box): shown only while "Other…" is chosen.
 */
(function () {
  "use strict";

  var FETCH_HEADER = "X-Hrsync-Fetch";
  var LOCATION_HEADER = "X-Hrsync-Location";
  var OTHER = "other";

  function each(root, selector, fn) {
    Array.prototype.forEach.call(root.querySelectorAll(selector), fn);
  }

  function once(el, flag) {
    if (el.dataset[flag]) return false;
    el.dataset[flag] = "1";
    return true;
  }

  // -- the address's scheme decides which fields show ---------------------------
  function schemeOf(value) {
    var match = /^\s*([a-z][a-z0-9+.-]*):\/\//i.exec(value || "");
    if (!match) return "";
    var scheme = match[1].toLowerCase();
    return scheme === "http" ? "https" : scheme; // http:// is a local stand-in for https://
  }

  function setupSchemes(source) {
    var form = source.form;
    if (!form || !once(source, "schemesReady")) return;
    function apply() {
      var scheme = schemeOf(source.value);
      each(form, "[data-schemes]", function (widget) {
        var row = widget.closest(".field") || widget;
        var wanted = widget.getAttribute("data-schemes").split(/\s+/);
        row.hidden = scheme !== "" && wanted.indexOf(scheme) < 0;
      });
      each(form, "fieldset", function (set) {
        var rows = set.querySelectorAll(".field");
        if (!rows.length) return;
        set.hidden = !Array.prototype.some.call(rows, function (row) { return !row.hidden; });
      });
    }
    source.addEventListener("input", apply);
    apply();
  }

  // -- a select with "Other…" and its text box ------------------------------------
  function setupOther(select) {
    var box = select.nextElementSibling;
    if (!box || !box.hasAttribute("data-other-value") || !once(select, "otherReady")) return;
    function apply() { box.hidden = select.value !== OTHER; }
    select.addEventListener("change", apply);
    apply();
  }

  // -- posting a form that tests the connection -----------------------------------
  function samePage(url) {
    var target = new URL(url, window.location.href);
    return target.pathname === window.location.pathname && target.search === window.location.search;
  }

  /** What the admin typed into secret fields, to put back after a swap. */
  function typedSecrets() {
    var typed = [];
    each(document, "[data-swap] [data-secret]", function (input) {
      if (!input.value) return;
      var help = document.getElementById(input.id + "_helptext");
      typed.push({ name: input.name, value: input.value, help: help ? help.textContent : null });
    });
    return typed;
  }

  function restoreSecrets(typed) {
    typed.forEach(function (secret) {
      var input = document.querySelector('[data-secret][name="' + secret.name + '"]');
      if (!input || input.value) return;
      input.value = secret.value;
      var help = document.getElementById(input.id + "_helptext");
      if (!help) return;
      // The server's "type it again" does not hold: it is still typed in.
      if (secret.help === null) help.hidden = true;
      else help.textContent = secret.help;
    });
    if (typed.length) each(document, "[data-retype-note]", function (note) { note.hidden = true; });
  }

  function swapIn(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var typed = typedSecrets();
    var swapped = 0;
    each(document, "[data-swap][id]", function (old) {
      var fresh = doc.getElementById(old.id);
      if (!fresh) return;
      old.replaceWith(document.importNode(fresh, true));
      swapped += 1;
    });
    if (!swapped) return false;
    var main = document.getElementById("main");
    var oldMessages = main && main.querySelector(":scope > .messages");
    var newMessages = doc.querySelector("#main > .messages");
    if (oldMessages) oldMessages.remove();
    if (main && newMessages) main.insertBefore(document.importNode(newMessages, true), main.firstChild);
    restoreSecrets(typed);
    init(document);
    var focus = document.querySelector("[data-check-focus]") ||
      document.querySelector("#main > .messages") || document.getElementById("check-result");
    if (focus) {
      if (!focus.hasAttribute("tabindex")) focus.setAttribute("tabindex", "-1");
      focus.focus();
      focus.scrollIntoView({ block: "center" });
    }
    return true;
  }

  function setupCheckForm(form) {
    if (!once(form, "checkReady") || !window.fetch || !window.DOMParser) return;
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      var submitter = event.submitter || form.querySelector('button[type="submit"]');
      var body;
      try {
        body = new FormData(form, submitter);
      } catch (error) { // older browsers: no submitter argument
        body = new FormData(form);
        if (submitter && submitter.name) body.append(submitter.name, submitter.value);
      }
      var seconds = form.getAttribute("data-check-seconds");
      var status = form.querySelector("[data-check-progress]");
      var buttons = form.querySelectorAll('button[type="submit"]');
      var label = submitter ? submitter.textContent : "";
      var statusText = status ? status.textContent : "";
      busy = true;
      form.setAttribute("aria-busy", "true");
      Array.prototype.forEach.call(buttons, function (button) { button.disabled = true; });
      if (submitter) submitter.textContent = "Testing… (up to " + seconds + " seconds)";
      if (status) status.textContent = "Testing the connection… This can take up to " + seconds + " seconds.";

      function stop(message) {
        busy = false;
        form.removeAttribute("aria-busy");
        Array.prototype.forEach.call(buttons, function (button) { button.disabled = false; });
        if (submitter) submitter.textContent = label;
        if (status) status.textContent = message || statusText;
      }

      var headers = {};
      headers[FETCH_HEADER] = "1";
      fetch(form.action, { method: "POST", body: body, credentials: "same-origin", headers: headers })
        .then(function (response) {
          var location = response.headers.get(LOCATION_HEADER);
          if (location && !samePage(location)) {
            window.location.assign(location);
            return null;
          }
          if (location) {
            return fetch(location, { credentials: "same-origin" }).then(function (page) { return page.text(); });
          }
          return response.text();
        })
        .then(function (html) {
          if (html === null) return; // another page is opening
          if (!swapIn(html)) throw new Error("no page to show");
          if (document.contains(form)) stop("Test finished."); // a form not swapped (Test connection) is usable again
        })
        .catch(function () {
          stop("The test could not finish: hrsync did not answer as expected. Try again, or reload the page.");
        });
    });
  }

  function init(root) {
    each(root, "[data-check-form]", setupCheckForm);
    each(root, "[data-scheme-source]", setupSchemes);
    each(root, "select[data-other-select]", setupOther);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { init(document); });
  } else {
    init(document);
  }
})();
