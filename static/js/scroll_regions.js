/* Tables wider than the screen: make their .table-wrap a scroll region that
 * says so.
 *
 * A .table-wrap whose table is wider than it gets data-scrolls="x" (the CSS
 * then fades the side that has more to see, and shows the scrollbar),
 * tabindex=0 so a keyboard can scroll it, and role=region with a name (the
 * table's caption, or the heading of its section) so a screen reader says
 * what it is. data-scroll-at="start|middle|end" follows the scroll position,
 * so the fade goes once the user has seen the far edge. Re-checked when the
 * wrap changes size (a phone turned sideways, a <details> opened), and done
 * for tables another script adds later.
 *
 * Without JavaScript the wrap still scrolls (overflow-x: auto), with the
 * browser's own scrollbar as the only hint.
 */
(function () {
  "use strict";

  function nameOf(wrap) {
    var table = wrap.querySelector("table");
    var caption = table && table.querySelector("caption");
    var text = (caption && caption.textContent) || (table && table.getAttribute("aria-label"));
    if (!text) {
      var section = wrap.closest("[aria-labelledby]");
      var heading = section && document.getElementById(section.getAttribute("aria-labelledby"));
      text = heading ? heading.textContent : document.title.split("·")[0];
    }
    return text.replace(/\s+/g, " ").trim() + " (scrolls sideways)";
  }

  function position(wrap) {
    var left = Math.abs(wrap.scrollLeft);
    var room = wrap.scrollWidth - wrap.clientWidth;
    wrap.setAttribute("data-scroll-at", left < 2 ? "start" : left > room - 2 ? "end" : "middle");
  }

  function update(wrap) {
    var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
    if (scrolls && !wrap.hasAttribute("data-scrolls")) {
      // Only what this script adds is taken away again when the table fits.
      var added = ["data-scrolls", "data-scroll-at"];
      wrap.setAttribute("data-scrolls", "x");
      if (!wrap.hasAttribute("tabindex")) { wrap.tabIndex = 0; added.push("tabindex"); }
      if (!wrap.hasAttribute("role")) { wrap.setAttribute("role", "region"); added.push("role"); }
      if (!wrap.hasAttribute("aria-label")) { wrap.setAttribute("aria-label", nameOf(wrap)); added.push("aria-label"); }
      added.push("data-scroll-added");
      wrap.setAttribute("data-scroll-added", added.join(" "));
    } else if (!scrolls && wrap.hasAttribute("data-scrolls")) {
      wrap.getAttribute("data-scroll-added").split(" ").forEach(function (name) { wrap.removeAttribute(name); });
    }
    if (scrolls) position(wrap);
  }

  var watched = new WeakSet();
  var resized = window.ResizeObserver && new ResizeObserver(function (entries) {
    entries.forEach(function (entry) { update(entry.target.closest(".table-wrap")); });
  });

  function watch(wrap) {
    if (watched.has(wrap)) return;
    watched.add(wrap);
    update(wrap);
    wrap.addEventListener("scroll", function () { position(wrap); }, { passive: true });
    if (resized) {
      resized.observe(wrap);
      var table = wrap.querySelector("table");
      if (table) resized.observe(table);
    }
  }

  function watchAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap"), watch);
  }

  function init() {
    watchAll();
    // Tables a script puts in later (a connection test's preview swapped in) get the same.
    if (window.MutationObserver) new MutationObserver(watchAll).observe(document.body, { childList: true, subtree: true });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
