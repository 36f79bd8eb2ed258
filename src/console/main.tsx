import { render } from "preact";
import { App } from "./app.js";
import { ErrorBoundary } from "./components/error-boundary.js";
import "./styles.css";

const root = document.getElementById("app")!;
// The "Loading…" placeholder of index.html goes; Preact renders into an empty element.
root.textContent = "";
render(
  <ErrorBoundary>
    <App />
  </ErrorBoundary>,
  root,
);
