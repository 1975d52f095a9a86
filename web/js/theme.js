// Colour theme: light and dark follow the system (prefers-color-scheme) until the toggle picks
// one; the choice is kept in localStorage and applied before the first paint (no flash).
(() => {
  const KEY = "localwebai-theme";
  const ORDER = ["system", "dark", "light"];
  const root = document.documentElement;
  const read = () => {
    try {
      return localStorage.getItem(KEY) || "system";
    } catch {
      return "system"; // storage refused (some private windows): follow the system
    }
  };
  const apply = (theme) => {
    if (theme === "system") delete root.dataset.theme;
    else root.dataset.theme = theme;
    const button = document.getElementById("theme-toggle");
    if (button) {
      const label = theme === "system" ? "follows the system" : theme;
      button.title = `Colour theme: ${label}`;
      button.setAttribute("aria-label", `Colour theme: ${label}`);
    }
  };
  let current = read();
  apply(current);
  addEventListener("DOMContentLoaded", () => {
    apply(current);
    document.getElementById("theme-toggle").addEventListener("click", () => {
      current = ORDER[(ORDER.indexOf(current) + 1) % ORDER.length];
      try {
        localStorage.setItem(KEY, current);
      } catch {
        // not kept, but applied for this page
      }
      apply(current);
    });
  });
})();
