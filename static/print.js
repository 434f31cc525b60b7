// The letter page's "In thư" button opens the print dialog. Without JavaScript the button
// stays hidden and Ctrl+P does the same.
document.querySelectorAll("[data-print]").forEach(function (b) {
  b.hidden = false;
  b.addEventListener("click", function () { window.print(); });
});
