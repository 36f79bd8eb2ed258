import { Component, type ComponentChildren } from "preact";

interface State {
  error?: Error;
}

/**
 * A fault in the console's own code shows what happened and a way back,
 * rather than an empty page. (Failed calls to the service are shown where
 * they happen; they never reach this.)
 */
export class ErrorBoundary extends Component<{ children: ComponentChildren }, State> {
  state: State = {};

  static getDerivedStateFromError(error: unknown): State {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  componentDidCatch(error: unknown): void {
    console.error("console error", error);
  }

  render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <main class="page" id="main">
        <div class="panel error-panel" role="alert">
          <h1>Something went wrong in the console</h1>
          <p>{error.message}</p>
          <p>Your changes that the service confirmed are saved. Reloading the page usually helps.</p>
          <button type="button" onClick={() => location.reload()}>
            Reload the page
          </button>
        </div>
      </main>
    );
  }
}
