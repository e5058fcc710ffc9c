// Case page: insert an answer template where the cursor is, keeping what is already written,
// and let the reply box grow with its text. The page works without this script: the
// "Infoga mallen" button then posts the form and the server adds the template to the text.
(function () {
  'use strict';
  var form = document.getElementById('reply-form');
  if (!form) { return; }
  var box = form.querySelector('textarea[name="body"]');
  var picker = document.getElementById('reply-mall');
  var insert = document.getElementById('reply-insert');
  var done = document.getElementById('reply-insert-done');
  var signature = form.getAttribute('data-signature') || '';
  var cursor = null; // where the writer last was: [start, end]

  function grow() {
    if (window.CSS && CSS.supports && CSS.supports('field-sizing', 'content')) { return; }
    box.style.height = 'auto';
    box.style.height = (box.scrollHeight + 2) + 'px';
  }

  function remember() { cursor = [box.selectionStart, box.selectionEnd]; }

  function defaultPosition() {
    // Not written in yet: above the signature (or at the end if it was removed).
    var at = signature ? box.value.lastIndexOf(signature) : -1;
    return at >= 0 ? at : box.value.length;
  }

  function separator(joined) {
    // Blank line between paragraphs: add what is missing of the two newlines.
    var newlines = (joined.match(/\n*$/) || [''])[0].length;
    return newlines >= 2 ? '' : (newlines === 1 ? '\n' : '\n\n');
  }

  function insertTemplate(text) {
    var value = box.value;
    var start = cursor ? cursor[0] : defaultPosition();
    var end = cursor ? cursor[1] : start;
    var before = value.slice(0, start);
    var after = value.slice(end);
    if (!before.trim()) { before = ''; }
    var lead = before ? separator(before) : '';
    var tail = after.trim() ? separator(text + after.match(/^\n*/)[0]) : '';
    box.value = before + lead + text + tail + after;
    var caret = before.length + lead.length + text.length;
    box.focus();
    box.setSelectionRange(caret, caret);
    remember();
    grow();
  }

  if (box) {
    ['keyup', 'click', 'select', 'input'].forEach(function (name) {
      box.addEventListener(name, remember);
    });
    box.addEventListener('input', grow);
    grow();
  }
  if (box && picker && insert) {
    insert.addEventListener('click', function (event) {
      var option = picker.options[picker.selectedIndex];
      if (!option) { return; }
      event.preventDefault();
      insertTemplate(option.getAttribute('data-text') || '');
      if (done) { done.textContent = 'Mallen ”' + option.textContent + '” är infogad i svaret.'; }
    });
  }
})();
