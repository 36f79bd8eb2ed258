import { Code, ConnectError } from "@connectrpc/connect";
import type { ModelStore } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";
import { newModelId } from "../models/model-id.js";
import { copyRules } from "./catalog-copies.js";

/**
 * Lets callers into their workspace: creates it with a copy of every
 * visible system model on first use, and refuses a token that names it
 * under another account.
 */
export class WorkspaceAdmission {
  /** Workspace id -> owning account, for workspaces known to exist. */
  private readonly accounts = new Map<string, string>();

  constructor(
    private readonly store: ModelStore,
    private readonly clock: () => number,
  ) {}

  async admit(principal: Principal): Promise<void> {
    let accountId = this.accounts.get(principal.workspaceId);
    if (accountId === undefined) {
      const wanted = { id: principal.workspaceId, accountId: principal.accountId };
      const now = this.clock();
      const workspace = (await this.store.getWorkspace(wanted.id)) ?? (await this.store.createWorkspace(wanted, now, copyRules({ newId: newModelId, now })));
      accountId = workspace.accountId;
      this.accounts.set(workspace.id, accountId);
    }
    if (accountId !== principal.accountId) {
      throw new ConnectError(`workspace "${principal.workspaceId}" belongs to another account`, Code.PermissionDenied);
    }
  }
}
