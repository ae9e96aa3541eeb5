// The console's one script, an enhancement: every page works without it.

// A form marked data-confirm asks before it is sent (办结, 退回, 受理决定): one click too many
// must not close a petitioner's case.
document.addEventListener("submit", function (e) {
  var message = e.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    e.preventDefault();
  }
});

// A form sent back with errors: each field in error says so to assistive technology
// (aria-invalid, its message as description), and the first one takes the focus.
document.addEventListener("DOMContentLoaded", function () {
  var first = null;
  document.querySelectorAll(".field-error[data-field]").forEach(function (msg, i) {
    var label = msg.previousElementSibling;
    if (!label) {
      return;
    }
    // the control the message names ("division_code", "petitioners.0.name", an action's "acceptance.notice")
    var field = msg.getAttribute("data-field");
    var control = label.querySelector('[name="' + field + '"]') ||
      label.querySelector('[name="' + field.split(".").slice(1).join(".") + '"]') ||
      label.querySelector("input:not([type=hidden]), select, textarea");
    if (!control) {
      return;
    }
    msg.id = msg.id || "error-" + i;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", msg.id);
    first = first || control;
  });
  if (first) {
    first.focus();
  }
});
