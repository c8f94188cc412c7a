// Runs before the page paints (a plain, blocking script): applies the theme the user chose last time,
// or else the system's, so a dark-theme user never sees a flash of light. The stylesheet keys its
// dark colours on this attribute alone.
(function () {
  /** @type {string | null} */
  var theme = null;
  try {
    theme = localStorage.getItem('tally.theme');
  } catch (e) { /* storage blocked: follow the system */ }
  if (theme !== 'dark' && theme !== 'light') theme = window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  document.documentElement.setAttribute('data-theme', theme);
})();
