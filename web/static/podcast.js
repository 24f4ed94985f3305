// The private podcast feed's "Copy" buttons on the account page: copy the
// address with the clipboard API (else select it and use execCommand), and
// say so in the live region next to the button. Without this script the
// buttons stay hidden and the read-only field can be selected and copied.
(function () {
  "use strict";
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var input = document.getElementById(btn.dataset.copy);
    var status = document.getElementById(btn.dataset.status);
    if (!input || !status) {
      return;
    }
    btn.hidden = false;
    function say(text) {
      status.textContent = "";
      // A fresh text node, so that screen readers announce it again.
      window.setTimeout(function () { status.textContent = text; }, 50);
    }
    function fallback() {
      input.focus();
      input.select();
      var ok = false;
      try {
        ok = document.execCommand("copy");
      } catch (e) {
        ok = false;
      }
      say(ok ? btn.dataset.copied : btn.dataset.failed);
    }
    btn.addEventListener("click", function () {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(function () {
          say(btn.dataset.copied);
        }, fallback);
      } else {
        fallback();
      }
    });
  });
  document.querySelectorAll(".podcast-feed-url input[readonly]").forEach(function (input) {
    input.addEventListener("focus", function () { input.select(); });
  });
})();
