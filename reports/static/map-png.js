// The map's PNG download: the SVG file (same origin) drawn on a canvas at twice its size.
document.addEventListener("click", function (event) {
  var button = event.target.closest("button.map-png");
  if (!button) return;
  var image = new Image();
  image.onload = function () {
    var canvas = document.createElement("canvas");
    canvas.width = image.naturalWidth * 2;
    canvas.height = image.naturalHeight * 2;
    var context = canvas.getContext("2d");
    context.drawImage(image, 0, 0, canvas.width, canvas.height);
    canvas.toBlob(function (blob) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = button.getAttribute("data-filename") || "map.png";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
    }, "image/png");
  };
  image.src = button.getAttribute("data-svg");
});
