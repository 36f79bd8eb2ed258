import type { ListPosition, ModelListQuery, ModelRecord, ModelStore } from "../../storage/model-store.js";

/**
 * Every model a query matches, page by page (keyset), so a walk over a large
 * workspace holds one page at a time and never counts the total.
 */
export async function* modelPages(
  store: ModelStore,
  query: Omit<ModelListQuery, "limit" | "after" | "skipTotal">,
  pageSize: number,
): AsyncGenerator<ModelRecord[]> {
  let after: ListPosition | undefined;
  for (;;) {
    const { models, positions } = await store.listModels({ ...query, limit: pageSize, after, skipTotal: true });
    if (models.length > 0) yield models;
    if (models.length < pageSize) return;
    after = positions[positions.length - 1];
  }
}
