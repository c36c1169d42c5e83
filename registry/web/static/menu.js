/* On a phone the site's navigation and account links fold behind a "Menu" button.
   Without JavaScript the button stays hidden and the navigation stays in view: the
   stylesheet folds the menu only on a page marked "has-menu-button", which this script
   marks before the first paint (it is loaded in the head, not deferred). */
(function () {
  "use strict";
  document.documentElement.classList.add("has-menu-button");

  function wire() {
    var button = document.querySelector("[data-menu-toggle]");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) return;

    function isOpen() { return button.getAttribute("aria-expanded") === "true"; }
    function setOpen(open) { button.setAttribute("aria-expanded", open ? "true" : "false"); }
    // The button is shown only below the stylesheet's breakpoint: elsewhere the menu is open.
    function folding() { return window.getComputedStyle(button).display !== "none"; }

    // The focus stays on the button (it reads "expanded"); the menu is next in the tab order.
    button.addEventListener("click", function () { setOpen(!isOpen()); });
    // Escape closes the menu and brings the focus back to its button.
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !isOpen() || !folding()) return;
      var inside = menu.contains(document.activeElement) || document.activeElement === button;
      setOpen(false);
      if (inside) button.focus();
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
