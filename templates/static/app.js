// Progressive enhancement only: every page works without this file.
(function () {
  'use strict';
  // Tell the server the booker's time zone, so the confirmation can show
  // times in it as well as in the practice's.
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    document.querySelectorAll('[data-client-timezone]').forEach(function (el) {
      if (tz && !el.value) el.value = tz;
    });
  } catch (e) { /* older browsers: the practice's zone is used */ }
  // Move focus to the error summary so screen readers announce it.
  var errors = document.getElementById('form-errors');
  if (errors) errors.focus();
})();
