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
          error.hidden = false; error.textContent = s.message || "The job is no longer known; see recent imports.";
          return;
        }
        stage.textContent = (s.stage || "working").replace(/^./, function (c) { return c.toUpperCase(); }) + "… " + (s.percent || 0) + "%";
        setTimeout(poll, 600);
      })
      .catch(function () { setTimeout(poll, 1500); });
  }
  poll();
})();
