/* Small enhancements; every form works without them. */
(function () {
  "use strict";
  // "Add a row" for repeating rows (countries and areas with shares): clone the last
  // row with the next index. Without JavaScript the form offers five empty rows.
  document.querySelectorAll("[data-rows]").forEach(function (fieldset) {
    var button = fieldset.querySelector("[data-add-row]");
    var container = fieldset.querySelector(".share-rows");
    if (!button || !container) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var rows = container.querySelectorAll("[data-row]");
      var last = rows[rows.length - 1];
      var next = rows.length;
      var clone = last.cloneNode(true);
      clone.querySelectorAll("[id],[name],[for]").forEach(function (el) {
        ["id", "name", "for"].forEach(function (attr) {
          var value = el.getAttribute(attr);
          if (value) el.setAttribute(attr, value.replace(/-\d+-/, "-" + next + "-"));
        });
      });
      clone.querySelectorAll("label").forEach(function (label) {
        label.textContent = label.textContent.replace(/\d+$/, String(next + 1));
      });
      clone.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      clone.querySelectorAll("select").forEach(function (select) { select.selectedIndex = 0; });
      clone.querySelectorAll(".error-message").forEach(function (p) { p.remove(); });
      clone.querySelectorAll(".field-error").forEach(function (f) { f.classList.remove("field-error"); });
      container.appendChild(clone);
      var first = clone.querySelector("select, input");
      if (first) first.focus();
    });
  });
  // A note that a table scrolls sideways is shown only while it does (the page says so
  // without scripts, when the table has many columns).
  var notes = Array.prototype.slice.call(document.querySelectorAll(".scroll-note[id]"));
  function placeScrollNotes() {
    notes.forEach(function (note) {
      var region = document.querySelector('[aria-describedby~="' + note.id + '"]');
      if (region) note.hidden = region.scrollWidth <= region.clientWidth;
    });
  }
  if (notes.length) {
    placeScrollNotes();
    window.addEventListener("resize", placeScrollNotes);
  }
  // Ask before deleting.
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
    });
  });
})();
