/* The Employees tab's "All records on this page": ticking it ticks every
 * row's box, so the page shows what the buttons act on, and unticking a row
 * unticks it. Without JS the box alone sends the page's ids, so the form
 * works either way. */
(function () {
  "use strict";
  var all = document.querySelector("[data-select-all]");
  if (!all) return;
  var name = all.getAttribute("data-select-all");
  var form = all.form;

  function boxes() {
    return Array.prototype.filter.call(document.querySelectorAll('input[type="checkbox"][name="' + name + '"]'), function (box) {
      return box.form === form;
    });
  }

  all.addEventListener("change", function () {
    boxes().forEach(function (box) { box.checked = all.checked; });
  });
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (box === all || box.name !== name || box.form !== form) return;
    all.checked = boxes().every(function (b) { return b.checked; });
  });
})();
