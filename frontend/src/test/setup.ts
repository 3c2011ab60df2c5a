import { cleanup } from "@testing-library/react";
import { afterEach, beforeEach, vi } from "vitest";
import { forgetProvider } from "../api/payments";
import { setSession } from "../lib/storage";
import { FakeWebSocket } from "./fakes";

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
