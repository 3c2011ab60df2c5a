// Pages live at real paths (/events/42), served by the API as index.html (app.py); React Router
// (App.tsx) maps them to pages. Links from before, with the page after a "#" (/#/events/42), still work.

/** The path an old fragment link (`#/events/42?x=1`) meant, or null when the fragment is no route. */
export function legacyHashPath(hash: string): string | null {
  if (!hash.startsWith("#/")) return null;
  const path = hash.slice(1);
  return path === "/me" || path.startsWith("/me?") ? `/tickets${path.slice(3)}` : path;
}

/** Rewrite an old fragment link to its real path before the router reads the address. */
export function redirectLegacyHash(): void {
  const path = legacyHashPath(window.location.hash);
  if (path) window.history.replaceState(window.history.state, "", path);
}

/** Which menu entry a path belongs to (its `aria-current`). */
export function section(pathname: string): string {
  const first = pathname.split("/")[1] ?? "";
  if (first === "" || first === "events" || first === "checkout") return "events";
  if (first === "me") return "tickets";
  return first;
}
