// Shows the login error, if any, in the page's language (the server names it by text key).
(() => {
  'use strict';
  const texts = JSON.parse(document.getElementById('texts').textContent);
  const error = document.getElementById('login-error');
  const key = error.dataset.error;
  error.textContent = key && texts[key] ? texts[key] : '';
})();
