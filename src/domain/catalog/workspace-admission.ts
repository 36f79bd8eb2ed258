import { Code, ConnectError } from "@connectrpc/connect";
import type { ModelStore } from "../../storage/model-store.js";
import type { Principal } from "../auth/principal.js";

/**
 * Lets callers into their workspace: creates it on first use (one row: it
 * sees the catalog as virtual copies), and refuses a token that names it
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
      const workspace = (await this.store.getWorkspace(wanted.id)) ?? (await this.store.createWorkspace(wanted, now));
      accountId = workspace.accountId;
      this.accounts.set(workspace.id, accountId);
    }
    if (accountId !== principal.accountId) {
      throw new ConnectError(`workspace "${principal.workspaceId}" belongs to another account`, Code.PermissionDenied);
    }
  }
}
