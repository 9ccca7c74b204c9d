/* Cartback dashboard: tooltips on the charts. Everything else works without this file. */
(function () {
  "use strict";

  function setup(figure) {
    var frame = figure.querySelector(".chart__frame");
    var svg = figure.querySelector("svg");
    var tip = figure.querySelector(".chart__tip");
    if (!frame || !svg || !tip) return;
    var current = null;

    // The tooltip replaces the browser's own <title> bubbles, which would show twice.
    Array.prototype.forEach.call(svg.querySelectorAll(".chart__col"), function (col) {
      var title = col.querySelector("title");
      if (title) {
        col.setAttribute("aria-label", title.textContent);
        col.removeChild(title);
      }
    });

    function show(col) {
      if (current === col) return;
      if (current) current.classList.remove("is-hover");
      current = col;
      col.classList.add("is-hover");
      var point = col.querySelector(".point");
      var box = point.getBoundingClientRect();
      var hit = col.querySelector(".chart__hit").getBoundingClientRect();
      var outer = frame.getBoundingClientRect();
      tip.textContent = "";
      var strong = document.createElement("strong");
      strong.textContent = col.getAttribute("data-text");
      tip.appendChild(strong);
      tip.appendChild(document.createTextNode(col.getAttribute("data-label")));
      tip.hidden = false;
      var x = hit.left + hit.width / 2 - outer.left;
      var half = tip.offsetWidth / 2;
      x = Math.max(half, Math.min(outer.width - half, x));
      var y = Math.min(box.top, hit.bottom - 6) - outer.top;
      tip.style.left = x + "px";
      tip.style.top = Math.max(y, 24) + "px";
    }

    function hide() {
      if (current) current.classList.remove("is-hover");
      current = null;
      tip.hidden = true;
    }

    svg.addEventListener("pointermove", function (event) {
      var col = event.target.closest ? event.target.closest(".chart__col") : null;
      if (col) show(col); else hide();
    });
    svg.addEventListener("pointerleave", hide);
  }

  function ready() {
    Array.prototype.forEach.call(document.querySelectorAll("figure.chart"), setup);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
