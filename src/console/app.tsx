import { useEffect, useState } from "preact/hooks";
import { CatalogView } from "./components/catalog-view.js";
import { LiveIndicator } from "./components/live-indicator.js";
import { ModelForm } from "./components/model-form.js";
import { PriceChart } from "./components/price-chart.js";
import { SignIn } from "./components/sign-in.js";
import { followLink, paths, useRoute } from "./router.js";
import { useLiveModels } from "./live-models.js";
import { session, tokenClaims } from "./session.js";

function useSession() {
  const [state, setState] = useState(session.get());
  useEffect(() => session.subscribe(setState), []);
  return state;
}

export function App() {
  const { token, message } = useSession();
  const route = useRoute();
  // Bumped by every change to the models, so the price chart follows them.
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  const live = useLiveModels(token);

  if (!token) return <SignIn message={message} />;
  const workspace = tokenClaims(token).workspaceId;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={paths.catalog} onClick={followLink}>
          ModelService console
        </a>
        <span class="workspace">{workspace ? `Workspace ${workspace}` : "Signed in"}</span>
        <LiveIndicator state={live.state} />
        <button type="button" onClick={() => session.signOut("You signed out.")}>
          Sign out
        </button>
      </header>
      <main class="page" id="main">
        {route.page === "catalog" && (
          <>
            <h1 class="visually-hidden">Models of the workspace</h1>
            <CatalogView onCatalogChange={changed} liveVersion={live.version} />
            <PriceChart version={version + live.version} />
          </>
        )}
        {route.page === "new" && <ModelForm key="new" onSaved={changed} />}
        {route.page === "edit" && <ModelForm key={route.id} id={route.id} onSaved={changed} liveVersion={live.version} />}
        {route.page === "missing" && (
          <section class="panel">
            <h1>No such page</h1>
            <p>
              Nothing is at <code>{route.path}</code>.{" "}
              <a href={paths.catalog} onClick={followLink}>
                Go to the models
              </a>
              .
            </p>
          </section>
        )}
      </main>
    </>
  );
}
