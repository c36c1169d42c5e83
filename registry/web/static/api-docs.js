/* The API reference page: Swagger UI started on the registry's OpenAPI document.
   A token typed into the page is added to the requests "Try it out" sends, and kept nowhere else. */
(function () {
  "use strict";
  var root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  var tokenField = document.getElementById("try-token");
  var form = document.getElementById("try-token-form");
  if (form) {
    form.addEventListener("submit", function (event) { event.preventDefault(); });
  }
  root.textContent = "";
  window.SwaggerUIBundle({
    url: root.getAttribute("data-spec"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    displayRequestDuration: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: function (request) {
      var token = tokenField ? tokenField.value.trim() : "";
      if (token) {
        request.headers.Authorization = "Bearer " + token;
      }
      return request;
    }
  });
}());
