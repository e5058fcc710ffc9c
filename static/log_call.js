// Log-a-call screen. Progressive enhancement: the form works without this script (every
// outcome's section is then shown, and the server warns about a closed line when saving).
// - The chosen case type's direct number, phone hours and guidance show at once; its
//   personnummer field opens when the case type needs one; a hand-off to a line that is
//   closed now shows the warning and its "Boka återuppringning i stället" at once.
// - Choosing an outcome shows its section only and moves focus to its first field. While the
//   arrow keys walk the radios focus stays there (Tab, or Enter, then enters the section).
// - Ctrl+Enter saves; ? opens the list of keyboard shortcuts.
(function () {
  'use strict';
  var form = document.getElementById('log-call');
  if (!form) { return; }
  var select = document.getElementById('case_type');
  var panel = document.getElementById('case-type-info');
  var warning = document.getElementById('closed-line');
  var warningText = document.getElementById('closed-line-text');
  var dialog = document.getElementById('shortcuts-dialog');
  var sections = form.querySelectorAll('.outcome-section');
  var radios = form.querySelectorAll('input[name="outcome"]');
  var arrowing = false;

  function chosenTemplate() {
    return select ? document.getElementById('ct-' + select.value) : null;
  }

  function chosenOutcome() {
    var checked = form.querySelector('input[name="outcome"]:checked');
    return checked ? checked.value : '';
  }

  function sectionFor(outcome) {
    return form.querySelector('.outcome-section[data-outcome="' + outcome + '"]');
  }

  function showSections(outcome) {
    sections.forEach(function (section) {
      section.hidden = section.getAttribute('data-outcome') !== outcome;
    });
  }

  function focusSection(outcome) {
    var section = sectionFor(outcome);
    if (!section) { return false; }
    var controls = section.querySelectorAll('button, input, select, textarea');
    for (var i = 0; i < controls.length; i++) {
      var control = controls[i];
      if (control.type !== 'hidden' && !control.closest('[hidden]')) {
        control.focus();
        return true;
      }
    }
    return false;
  }

  function updateWarning() {
    if (!warning || !warningText) { return; }
    var template = chosenTemplate();
    var message = template ? template.getAttribute('data-closed') : '';
    warningText.textContent = message || '';
    warning.hidden = !message;
  }

  function showCaseType() {
    var template = chosenTemplate();
    if (template && panel) {
      var heading = document.createElement('h2');
      heading.id = 'ct-h';
      heading.textContent = 'Direktnummer och vägledning';
      panel.replaceChildren(heading, template.content.cloneNode(true));
    }
    if (template && template.getAttribute('data-needs-personnummer') === 'yes') {
      var more = form.querySelector('details.more-caller');
      if (more) { more.open = true; }
    }
    updateWarning();
  }

  function chooseOutcome(outcome, moveFocus) {
    showSections(outcome);
    updateWarning();
    if (moveFocus) { focusSection(outcome); }
  }

  if (select) { select.addEventListener('change', showCaseType); }

  radios.forEach(function (radio) {
    radio.addEventListener('change', function () { chooseOutcome(radio.value, !arrowing); });
  });

  form.addEventListener('keydown', function (event) {
    var target = event.target;
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (target.name !== 'outcome') { return; }
    if (event.key.indexOf('Arrow') === 0) {
      // The browser checks the next radio (and fires change) while handling this key.
      arrowing = true;
      window.setTimeout(function () { arrowing = false; }, 0);
    } else if (event.key === 'Enter' && target.checked && focusSection(target.value)) {
      event.preventDefault(); // Enter confirms the outcome: on to its section
    }
  });

  // The callback offered instead of a hand-off to a closed line: no round trip needed.
  var instead = form.querySelector('button[name="instead"]');
  if (instead) {
    instead.addEventListener('click', function (event) {
      var callback = form.querySelector('input[name="outcome"][value="callback"]');
      if (!callback) { return; }
      event.preventDefault();
      callback.checked = true;
      chooseOutcome('callback', true);
    });
  }

  document.addEventListener('keydown', function (event) {
    if (event.key !== '?' || event.ctrlKey || event.altKey || event.metaKey || !dialog) { return; }
    var target = event.target;
    var typing = target.isContentEditable || target.tagName === 'TEXTAREA' ||
      target.tagName === 'SELECT' ||
      (target.tagName === 'INPUT' && !/^(radio|checkbox|button|submit)$/.test(target.type));
    if (typing || dialog.open) { return; }
    event.preventDefault();
    dialog.showModal();
  });

  chooseOutcome(chosenOutcome(), false);
  var summary = document.querySelector('.error-summary');
  var autofocus = document.querySelector('[autofocus]');
  if (summary) {
    summary.focus();
  } else if (autofocus && document.activeElement !== autofocus) {
    autofocus.focus();
  }
})();
