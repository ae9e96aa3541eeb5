// A form marked data-confirm asks before it is sent (办结, 退回, 受理决定): one click too many
// must not close a petitioner's case. Without scripts the form is sent as it is.
document.addEventListener("submit", function (e) {
  var message = e.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    e.preventDefault();
  }
});
