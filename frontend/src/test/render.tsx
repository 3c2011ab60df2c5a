import { QueryClientProvider } from "@tanstack/react-query";
import { render, type RenderResult } from "@testing-library/react";
import type { ReactNode } from "react";
import { BrowserRouter } from "react-router";
import { createQueryClient } from "../lib/query";

/** Render a page as the app does: inside the router and a fresh query cache. */
export function renderPage(ui: ReactNode): RenderResult {
  const client = createQueryClient();
  return render(
    <QueryClientProvider client={client}>
      <BrowserRouter>{ui}</BrowserRouter>
    </QueryClientProvider>,
  );
}
