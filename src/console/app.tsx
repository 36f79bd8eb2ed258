import { useState } from "preact/hooks";
import { CatalogView } from "./components/catalog-view.js";
import { LiveIndicator } from "./components/live-indicator.js";
import { ModelForm } from "./components/model-form.js";
import { ModelPage } from "./components/model-page.js";
import { PriceChart } from "./components/price-chart.js";
import { ReauthDialog } from "./components/reauth-dialog.js";
import { SignIn } from "./components/sign-in.js";
import { BackToModels } from "./components/back-to-models.js";
import { followLink, paths, useRoute } from "./router.js";
import { useLiveModels } from "./live-models.js";
import { session, tokenClaims, useSession } from "./session.js";

export function App() {
  const { token, message, expired } = useSession();
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
            {/* Signing in again reloads the list (its state is in the URL); a model's page keeps its form instead. */}
            <CatalogView key={token} onCatalogChange={changed} liveVersion={live.version} />
            <PriceChart key={token} version={version + live.version} />
          </>
        )}
        {route.page === "new" && (
          <section class="panel" aria-labelledby="form-title">
            <BackToModels />
            <h2 id="form-title">New custom model</h2>
            <ModelForm key="new" onSaved={changed} />
          </section>
        )}
        {route.page === "edit" && <ModelPage key={route.id} id={route.id} onSaved={changed} liveVersion={live.version} />}
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
      {expired && <ReauthDialog message={message} />}
    </>
  );
}
