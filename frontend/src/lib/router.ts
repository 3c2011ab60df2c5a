// Hash routing (#/events/42): the API serves one index.html at "/", so every page lives after the "#".
import { useEffect, useState } from "react";

export interface Route {
  name: string;
  params: Record<string, string>;
  query: URLSearchParams;
  path: string;
}

const PATTERNS: [string, string][] = [
  ["events", "/"],
  ["events", "/events"],
  ["event", "/events/:id"],
  ["queue", "/events/:id/queue"],
  ["checkout", "/checkout/:holdId"],
  ["feed", "/feed"],
  ["tickets", "/me"],
  ["organizer", "/organizer"],
  ["organizer-event", "/organizer/events/:id"],
  ["jobs", "/jobs"],
  ["organizer-manage", "/organizer/events/:id/manage"],
  ["door", "/door/:id"],
  ["dev-mail", "/dev/mail"],
  ["reset-password", "/reset-password"],
];

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [pathPart, queryPart = ""] = raw.split("?", 2) as [string, string?];
  const path = pathPart.startsWith("/") ? pathPart : `/${pathPart}`;
  const parts = path.split("/").filter(Boolean);
  for (const [name, pattern] of PATTERNS) {
    const pp = pattern.split("/").filter(Boolean);
    if (pp.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pp.length; i++) {
      const want = pp[i]!;
      const got = parts[i]!;
      if (want.startsWith(":")) params[want.slice(1)] = decodeURIComponent(got);
      else if (want !== got) {
        ok = false;
        break;
      }
    }
    if (ok) return { name, params, query: new URLSearchParams(queryPart), path };
  }
  return { name: "not-found", params: {}, query: new URLSearchParams(queryPart), path };
}

export function navigate(path: string, { replace = false } = {}): void {
  const target = `#${path}`;
  if (replace) window.location.replace(target);
  else window.location.hash = path;
}

export function href(path: string): string {
  return `#${path}`;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseHash(window.location.hash));
    window.addEventListener("hashchange", onChange);
    return () => window.removeEventListener("hashchange", onChange);
  }, []);
  return route;
}
