/* An import job's page: poll its status, move the bar, go to the batch when done. */
(function () {
  var box = document.getElementById("job");
  var bar = document.getElementById("job-bar");
  var stage = document.getElementById("job-stage");
  var error = document.getElementById("job-error");
  function poll() {
    fetch(box.dataset.statusUrl, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        bar.setAttribute("aria-valuenow", s.percent || 0);
        bar.querySelector("rect").setAttribute("width", s.percent || 0);
        if (s.state === "done" && s.url) { window.location.assign(s.url); return; }
        if (s.state === "error" || s.state === "unknown") {
          error.hidden = false; error.textContent = s.message || box.dataset.unknown;
          return;
        }
        // The page gives the words ("%(stage)s… %(percent)s%") in the reader's language.
        var name = s.stage ? s.stage.replace(/^./, function (c) { return c.toUpperCase(); }) : box.dataset.working;
        stage.textContent = box.dataset.stage.replace("%(stage)s", name).replace("%(percent)s", s.percent || 0).replace("%%", "%");
        setTimeout(poll, 600);
      })
      .catch(function () { setTimeout(poll, 1500); });
  }
  poll();
})();
