// Log-a-call screen: show the chosen case type's direct number and guidance at once,
// and save with Ctrl+Enter. The page works without this script.
(function () {
  var select = document.getElementById('case_type');
  var panel = document.getElementById('case-type-info');
  var form = document.getElementById('log-call');
  function show() {
    var template = document.getElementById('ct-' + select.value);
    if (!template) { return; }
    var heading = document.createElement('h2');
    heading.id = 'ct-h';
    heading.textContent = 'Direktnummer och vägledning';
    panel.replaceChildren(heading, template.content.cloneNode(true));
  }
  if (select && panel) { select.addEventListener('change', show); }
  if (form) {
    form.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
  }
})();
