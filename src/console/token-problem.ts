/**
 * Why the service refused a token, in a sentence. The service says it as
 * "invalid token: <jose code>" (jws_signature_verification_failed,
 * jwt_expired, …) or "missing bearer token"; people read the sentence.
 */
const reasons: ReadonlyArray<[RegExp, string]> = [
  [/jwt_expired/, "Your access token has expired."],
  [/jws_signature_verification_failed/, "The service does not recognise this token's signature: it was issued for another service, or its keys have changed."],
  [/jwt_claim_validation_failed/, "This token is not meant for this service (its issuer, audience or validity dates do not match)."],
  [/jose_alg_not_allowed|jose_not_supported/, "This token is signed in a way the service does not accept."],
  [/jwks_no_matching_key|jwks_multiple_matching_keys/, "The service has no key for this token: it was issued by another service, or its keys have changed."],
  [/jws_invalid|jwt_invalid|malformed/, "This is not a valid access token: copy the whole token again."],
  [/claim "([a-z_]+)"/, "This token lacks what the service needs to know who you are (its $1 claim)."],
  [/missing bearer token|no verified caller/, "You are not signed in."],
];

export function tokenProblem(message: string): string {
  for (const [pattern, sentence] of reasons) {
    const match = pattern.exec(message);
    if (match) return sentence.replace("$1", match[1] ?? "");
  }
  return "The service did not accept your access token.";
}
