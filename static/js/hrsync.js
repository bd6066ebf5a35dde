/* hrsync: the little JavaScript the pages use. No framework.
 *
 * Load it in <head> without defer: its first line marks <html class="js">
 * before the body is painted, so enhanced widgets never flash their
 * no-JS form.
 *
 *  - Menu buttons: <button data-menu-button aria-controls="ID" aria-haspopup="menu"
 *    aria-expanded="false"> + <ul id="ID" role="menu"> of [role=menuitem].
 *    Without JS the menu is a plain visible list.
 *  - Progress: <div data-progress-url="…"> with [data-progress-stage],
 *    [data-progress-count], <progress> and [data-progress-status] inside;
 *    polled every 2 s; when the run ends the page reloads once.
 *  - Column mapping: <select data-target-select id="ID"> + <span data-custom-for="ID">
 *    (the custom field's key): shown only while "custom" is chosen. Without
 *    JS it is always shown (and ignored unless "custom" is chosen).
 *  - Manager picker: <div data-picker-for="ID" data-search-url="…" hidden> with an
 *    <input type="search"> and a results list inside: finds people by name and
 *    puts the chosen one's id into the field ID. Without JS it stays hidden and
 *    the field takes a person id.
 *
 * Every page is served with a Content-Security-Policy that refuses inline
 * scripts and on…= attributes: behaviour belongs here, wired by data-
 * attributes, never in a template.
 */
document.documentElement.classList.add("js");

(function () {
  "use strict";

  // -- menu button (WAI-ARIA menu button pattern) ----------------------------
  function setupMenu(button) {
    var menu = document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;
    function items() {
      return Array.prototype.filter.call(menu.querySelectorAll('[role="menuitem"]'), function (el) {
        return !el.disabled;
      });
    }
    items().forEach(function (el) { el.tabIndex = -1; });

    function open(focusLast) {
      var list = items();
      if (!list.length) return;
      menu.classList.add("open");
      button.setAttribute("aria-expanded", "true");
      list[focusLast ? list.length - 1 : 0].focus();
    }
    function close(returnFocus) {
      if (!menu.classList.contains("open")) return;
      menu.classList.remove("open");
      button.setAttribute("aria-expanded", "false");
      if (returnFocus) button.focus();
    }
    function move(step) {
      var list = items();
      var index = list.indexOf(document.activeElement);
      list[(index + step + list.length) % list.length].focus();
    }

    button.addEventListener("click", function () {
      if (menu.classList.contains("open")) close(true); else open(false);
    });
    button.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "Enter" || event.key === " ") {
        event.preventDefault();
        open(false);
      } else if (event.key === "ArrowUp") {
        event.preventDefault();
        open(true);
      } else if (event.key === "Escape") {
        close(true);
      }
    });
    // Space activates a button on keyup: swallow it, the keydown already opened the menu.
    button.addEventListener("keyup", function (event) {
      if (event.key === " ") event.preventDefault();
    });
    menu.addEventListener("keydown", function (event) {
      var list = items();
      switch (event.key) {
        case "ArrowDown": event.preventDefault(); move(1); break;
        case "ArrowUp": event.preventDefault(); move(-1); break;
        case "Home": event.preventDefault(); list[0].focus(); break;
        case "End": event.preventDefault(); list[list.length - 1].focus(); break;
        case "Escape": event.preventDefault(); close(true); break;
        case "Tab": close(false); break;
      }
    });
    document.addEventListener("click", function (event) {
      if (!menu.contains(event.target) && !button.contains(event.target)) close(false);
    });
  }

  // -- progress polling ---------------------------------------------------------
  function setupProgress(panel) {
    var url = panel.getAttribute("data-progress-url");
    var bar = panel.querySelector("progress");
    var stage = panel.querySelector("[data-progress-stage]");
    var count = panel.querySelector("[data-progress-count]");
    var status = panel.querySelector("[data-progress-status]");
    var finished = false;

    function render(run) {
      if (stage) stage.textContent = run.stage || run.status_label;
      if (status) {
        status.textContent = run.status_label;
        status.className = "badge badge-" + run.status;
      }
      if (bar) {
        if (run.total) {
          bar.max = run.total;
          bar.value = Math.min(run.done, run.total);
        } else {
          bar.removeAttribute("value"); // indeterminate
        }
      }
      if (count) {
        count.textContent = run.total ? run.done + " of " + run.total : (run.done ? run.done + " read" : "");
      }
    }

    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) {
          if (!response.ok) throw new Error(String(response.status));
          return response.json();
        })
        .then(function (data) {
          if (data.active && data.run) {
            render(data.run);
            window.setTimeout(poll, 2000);
          } else if (!finished) {
            finished = true;
            window.location.reload();
          }
        })
        .catch(function () {
          window.setTimeout(poll, 5000); // a blip: keep trying, slower
        });
    }
    window.setTimeout(poll, 2000);
  }

  // -- column mapping: the custom key input follows its select ------------------
  function setupCustomKey(select) {
    var box = document.querySelector('[data-custom-for="' + select.id + '"]');
    if (!box) return;
    function sync() { box.hidden = select.value !== "custom"; }
    select.addEventListener("change", function () {
      sync();
      if (!box.hidden) { var input = box.querySelector("input"); if (input) input.focus(); }
    });
    sync();
  }

  // -- manager picker: find a person by name instead of typing an id -------------
  function setupPersonPicker(picker) {
    var target = document.getElementById(picker.getAttribute("data-picker-for"));
    var search = picker.querySelector("input[type=search]");
    var results = picker.querySelector(".picker-results");
    if (!target || !search || !results || !window.fetch) return;
    var timer = null;
    picker.hidden = false;

    function item(text, onClick) {
      var li = document.createElement("li");
      if (onClick) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "linkish";
        button.textContent = text;
        button.addEventListener("click", onClick);
        li.appendChild(button);
      } else {
        li.className = "muted";
        li.textContent = text;
      }
      results.appendChild(li);
    }

    search.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var q = search.value.trim();
        results.textContent = "";
        if (q.length < 2) return;
        var url = picker.getAttribute("data-search-url") + "?q=" + encodeURIComponent(q);
        fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
          .then(function (response) { return response.json(); })
          .then(function (data) {
            results.textContent = "";
            data.results.forEach(function (person) {
              item(person.name + (person.email ? " · " + person.email : "") + " (" + person.status + ")", function () {
                target.value = person.id;
                search.value = person.name;
                results.textContent = "";
                target.focus();
              });
            });
            if (!data.results.length) item("No one matches.");
          });
      }, 200);
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-menu-button]"), setupMenu);
    Array.prototype.forEach.call(document.querySelectorAll("[data-progress-url]"), setupProgress);
    Array.prototype.forEach.call(document.querySelectorAll("[data-target-select]"), setupCustomKey);
    Array.prototype.forEach.call(document.querySelectorAll("[data-picker-for]"), setupPersonPicker);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
