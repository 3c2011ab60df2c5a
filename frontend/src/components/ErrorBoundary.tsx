import { Component, type ErrorInfo, type ReactNode } from "react";

/** A render error shows a message with a way out, never a blank page. */
export class ErrorBoundary extends Component<{ children: ReactNode; resetKey?: string }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  componentDidCatch(error: Error, info: ErrorInfo): void {
    console.error("page failed to render", error, info.componentStack);
  }

  componentDidUpdate(prev: { resetKey?: string }): void {
    if (this.state.failed && prev.resetKey !== this.props.resetKey) this.setState({ failed: false });
  }

  render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    return (
      <div className="notice notice-error" role="alert">
        <p className="notice-title">This page could not be shown</p>
        <p>Something unexpected happened. Reloading usually fixes it; your tickets and place in line are safe.</p>
        <div className="actions">
          <button type="button" className="btn" onClick={() => window.location.reload()}>
            Reload
          </button>
          <a className="btn btn-ghost" href="/">
            All events
          </a>
        </div>
      </div>
    );
  }
}
