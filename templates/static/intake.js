// Progressive enhancement for the intake pages: the form works without it.
// Saves the page's answers every few seconds while the person types (and
// shows next to its question any answer the save refused), shows or hides
// questions that depend on an earlier answer, and focuses the error summary.
(function () {
  'use strict';
  // A page shown again with problems (any step, the signing one too):
  // focus the summary, which names and links each answer at fault.
  var errors = document.getElementById('form-errors');
  if (errors) errors.focus();
  var form = document.querySelector('form[data-autosave]');
  if (!form) return;
  var url = form.getAttribute('data-autosave');
  var status = form.querySelector('[data-autosave-status]');
  var dirty = false;
  var busy = false;

  function answers() {
    var out = {};
    form.querySelectorAll('[name^="q."]').forEach(function (el) {
      var id = el.name.slice(2);
      if (el.type === 'checkbox') {
        if (!(id in out)) out[id] = [];
        if (el.checked) out[id].push(el.value);
      } else if (el.type === 'radio') {
        if (!(id in out)) out[id] = null;
        if (el.checked) out[id] = el.closest('.scale') ? parseInt(el.value, 10) : el.value;
      } else {
        out[id] = el.value === '' ? null : el.value;
      }
    });
    Object.keys(out).forEach(function (k) {
      if (Array.isArray(out[k]) && out[k].length === 0) out[k] = null;
    });
    return out;
  }

  function save() {
    if (!dirty || busy) return;
    dirty = false;
    busy = true;
    fetch(url, {
      method: 'PUT',
      headers: {'Content-Type': 'application/json'},
      credentials: 'same-origin',
      body: JSON.stringify({answers: answers()})
    }).then(function (r) {
      if (status) status.textContent = r.ok ? 'Saved.' : 'Not saved yet — check the answers marked.';
      if (r.ok) return mark({});
      if (r.status === 422) {
        return r.json().then(function (j) { mark((j && j.error && j.error.fields) || {}); });
      }
    }).catch(function () {
      if (status) status.textContent = 'Not saved — you seem to be offline. Your answers are kept on this page.';
      dirty = true;
    }).then(function () { busy = false; });
  }

  // Shows the autosave's messages next to their questions (and clears
  // the ones it showed before), the way the server marks them.
  function mark(fields) {
    form.querySelectorAll('.field-error[data-autosave-error]').forEach(function (p) {
      var box = p.closest('.field');
      p.remove();
      if (!box) return;
      box.querySelectorAll('[aria-invalid]').forEach(function (el) { el.removeAttribute('aria-invalid'); });
    });
    Object.keys(fields).forEach(function (id) {
      var box = document.getElementById('field-' + id);
      if (!box || typeof fields[id] !== 'string') return;
      var old = document.getElementById('error-' + id);
      if (old) old.remove();
      var p = document.createElement('p');
      p.className = 'field-error';
      p.id = 'error-' + id;
      p.setAttribute('data-autosave-error', '');
      p.textContent = fields[id];
      box.appendChild(p);
      var el = box.querySelector('input, textarea, fieldset');
      if (el) {
        el.setAttribute('aria-invalid', 'true');
        el.setAttribute('aria-describedby', 'error-' + id);
      }
    });
  }

  function conditions() {
    form.querySelectorAll('[data-show-if]').forEach(function (box) {
      var dep = form.querySelectorAll('[name="q.' + box.getAttribute('data-show-if') + '"]');
      if (!dep.length) return; // the question is on another page: leave it shown
      var want = box.getAttribute('data-show-value');
      var on = false;
      dep.forEach(function (el) {
        if ((el.type === 'radio' || el.type === 'checkbox') ? el.checked && el.value === want : el.value === want) on = true;
      });
      box.hidden = !on;
    });
  }

  form.addEventListener('input', function () { dirty = true; conditions(); });
  form.addEventListener('change', function () { dirty = true; conditions(); });
  conditions();
  setInterval(save, 5000);
})();
