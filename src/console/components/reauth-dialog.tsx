import { useEffect, useRef } from "preact/hooks";
import { session } from "../session.js";
import { TokenForm } from "./token-form.js";

/**
 * Sign in again on top of the page when the token stopped working: a modal
 * dialog, so the form under it keeps everything typed, ready to submit again.
 */
export function ReauthDialog({ message }: { message?: string }) {
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => dialog.current?.showModal(), []);
  return (
    // Escape would leave a page whose every call fails: the way out is signing in, or signing out.
    <dialog ref={dialog} class="reauth" aria-labelledby="reauth-title" onCancel={(e) => e.preventDefault()}>
      <h2 id="reauth-title">Sign in again</h2>
      {message && (
        <p class="alert" role="alert">
          {message}
        </p>
      )}
      <TokenForm submitLabel="Sign in" />
      <p>
        <button type="button" class="link" onClick={() => session.signOut("You signed out.")}>
          Sign out instead
        </button>
      </p>
    </dialog>
  );
}
