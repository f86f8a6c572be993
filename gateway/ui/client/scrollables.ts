// Wide tables scroll inside their own box on narrow screens (app.css); a box that scrolls must be reachable by
// keyboard, so each one that overflows is made focusable and named.
export function scrollables(root: Document): void {
  const mark = () => {
    for (const table of root.querySelectorAll<HTMLTableElement>("main table:not(.u-legend)")) {
      if (table.scrollWidth > table.clientWidth + 1 && !table.hasAttribute("tabindex")) {
        table.tabIndex = 0;
        if (!table.hasAttribute("aria-label") && !table.querySelector("caption")) table.setAttribute("aria-label", "table (scrolls sideways)");
      }
    }
  };
  mark();
  window.addEventListener("resize", mark);
  // Charts add their tables once their data arrives.
  new MutationObserver(mark).observe(root.body, { childList: true, subtree: true });
}
