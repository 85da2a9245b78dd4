// The page's screens as tabs (the ARIA tabs pattern): arrow keys move
// between them, and a screen's id in the URL (#game) opens it.

export function setUpTabs(tablist) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const panel = (tab) => document.getElementById(tab.getAttribute("aria-controls"));
  for (const tab of tabs) {
    panel(tab).setAttribute("role", "tabpanel");
    panel(tab).setAttribute("aria-labelledby", tab.id);
  }

  function select(chosen, { focus = false, remember = true } = {}) {
    for (const tab of tabs) {
      const selected = tab === chosen;
      tab.setAttribute("aria-selected", String(selected));
      tab.tabIndex = selected ? 0 : -1;
      panel(tab).hidden = !selected;
    }
    if (focus) chosen.focus();
    // The first tab is the page's plain address.
    if (remember) history.replaceState(null, "", chosen === tabs[0] ? location.pathname + location.search : `#${panel(chosen).id}`);
  }

  tablist.addEventListener("click", (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(tab);
  });
  tablist.addEventListener("keydown", (event) => {
    const at = tabs.indexOf(document.activeElement);
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: tabs.length - 1 }[event.key];
    if (at < 0 || to === undefined) return;
    event.preventDefault();
    select(tabs[(to + tabs.length) % tabs.length], { focus: true });
  });
  const fromUrl = () => tabs.find((tab) => `#${panel(tab).id}` === location.hash) ?? tabs[0];
  addEventListener("hashchange", () => select(fromUrl(), { remember: false }));
  select(fromUrl(), { remember: false });
}
