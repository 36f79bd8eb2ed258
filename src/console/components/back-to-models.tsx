import { followLink, paths } from "../router.js";

/** The link back to the model list, above a model's form. */
export function BackToModels() {
  return (
    <p>
      <a href={paths.catalog} onClick={followLink}>
        ← All models
      </a>
    </p>
  );
}
