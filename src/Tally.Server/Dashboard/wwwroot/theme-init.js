// Runs before the page paints (a plain, blocking script): applies the theme the user chose last time,
// so a dark-theme user never sees a flash of light. Without a stored choice the CSS follows the system.
(function () {
  try {
    var theme = localStorage.getItem('tally.theme');
    if (theme === 'dark' || theme === 'light') document.documentElement.setAttribute('data-theme', theme);
  } catch (e) { /* storage blocked: follow the system */ }
})();
