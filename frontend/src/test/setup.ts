import { cleanup, configure } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";
import { forgetProvider } from "../api/payments";
import { setSession } from "../lib/storage";
import { FakeWebSocket } from "./fakes";

// findBy*/waitFor wait up to 5 s (the default 1 s is too short on a loaded 2-core machine);
// a test that passes only waits longer on a slow run.
configure({ asyncUtilTimeout: 5000 });

beforeEach(() => {
  setSession(null); // also empties the in-memory copy a previous test left
  forgetProvider();
  localStorage.clear();
  sessionStorage.clear();
  window.history.replaceState(null, "", "/");
  FakeWebSocket.instances = [];
  vi.stubGlobal("WebSocket", FakeWebSocket);
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  vi.useRealTimers();
});
