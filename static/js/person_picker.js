/* The Employees tab's person picker: an <input list> filled from the people
 * search endpoint as the admin types. Without JS the same input takes a
 * person's email or id, so the form works either way. */
(function () {
  "use strict";
  var datalist = document.getElementById("person-options");
  if (!datalist || !window.fetch) return;
  var timer = null;
  var latest = 0;

  function fill(results) {
    datalist.textContent = "";
    results.forEach(function (person) {
      var option = document.createElement("option");
      // The value is what the server resolves: the email, or the id when there is none.
      option.value = person.email || String(person.id);
      option.label = person.email ? person.name + " (" + person.email + ")" : person.name + " (id " + person.id + ")";
      option.textContent = option.label;
      datalist.appendChild(option);
    });
  }

  function search(input) {
    var q = input.value.trim();
    if (q.length < 2 || /^\d+$/.test(q)) return;
    var url = input.getAttribute("data-person-search") + "?q=" + encodeURIComponent(q);
    var ticket = ++latest;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { if (ticket === latest) fill(data.results || []); })
      .catch(function () { /* the plain field still works */ });
  }

  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("input[data-person-search]")) return;
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { search(input); }, 200);
  });
})();
