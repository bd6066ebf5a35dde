/* hrsync: Copy buttons. <button type="button" data-copy="ID"> copies the text
 * of the element ID (a <code>, an <input>) to the clipboard and says so in
 * its [data-copy-status] sibling (a live region). Without JavaScript, or
 * without clipboard access, the button stays hidden and the text can be
 * selected by hand. Loaded as a file: the Content-Security-Policy refuses
 * inline scripts.
 */
(function () {
  "use strict";

  function setup(button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    var status = button.parentNode.querySelector("[data-copy-status]");
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = "value" in source && source.tagName === "INPUT" ? source.value : source.textContent;
      navigator.clipboard.writeText(text.trim()).then(
        function () { if (status) status.textContent = "Copied."; },
        function () { if (status) status.textContent = "Could not copy: select the text and copy it yourself."; }
      );
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-copy]"), setup);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
