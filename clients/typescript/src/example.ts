// How a claim screen uses the client: look the participant up, submit a death claim, verify and approve
// it, and walk the region's queue with cursors. Mutations report refusals in `errors` with a code.
import { execute, type ClientOptions } from "./client.js";
import type { ClaimQueueQuery, Relationship, UserErrorCode } from "./gql/graphql.js";
import { ApproveClaim, ClaimQueue, ParticipantByMembershipNumber, SubmitClaim, VerifyClaim } from "./operations/officer.js";

export async function firstPendingClaims(options: ClientOptions, regionCode: string, pages: number) {
  const numbers: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < pages; page++) {
    const data: ClaimQueueQuery = await execute(options, ClaimQueue, { regionCode, status: "SUBMITTED", first: 20, after });
    const claims = data.claims;
    if (!claims) break;
    numbers.push(...claims.edges.map((edge) => edge.node.claimNumber));
    if (!claims.pageInfo.hasNextPage) break;
    after = claims.pageInfo.endCursor ?? null;
  }
  return numbers;
}

/** A JKM death claim through the workflow. Verification and approval are two people's (separation of duties). */
export async function submitAndApprove(
  officer: ClientOptions,
  supervisor: ClientOptions,
  membershipNumber: string,
  incidentDate: string,
  heir: { name: string; nik: string; relationship: Relationship },
) {
  const found = await execute(officer, ParticipantByMembershipNumber, { membershipNumber });
  const participant = found.participant;
  if (!participant) return { refused: "NOT_FOUND" };
  const submitted = await execute(officer, SubmitClaim, {
    input: { participantId: participant.id, program: "JKM", cause: "DEATH", incidentDate, recipients: [heir] },
  });
  const refusal = submitted.submitClaim.errors[0];
  if (refusal) return { refused: refusal.code, hint: refusalHint(refusal.code), message: refusal.message };
  const claim = submitted.submitClaim.claim!;
  const verified = await execute(officer, VerifyClaim, { id: claim.id, expectedVersion: claim.version });
  if (verified.verifyClaim.errors[0]) return { refused: verified.verifyClaim.errors[0].code };
  const approved = await execute(supervisor, ApproveClaim, {
    id: claim.id,
    expectedVersion: verified.verifyClaim.claim!.version,
    note: "documents checked at the branch",
  });
  return { claim: approved.approveClaim.claim };
}

/** What the claim screen tells the officer about a refusal. `UserErrorCode` is the union of the catalogue's
 * codes (docs/api.md, "Error codes"), so a misspelt or unknown code in a `case` fails `tsc`. */
export function refusalHint(code: UserErrorCode): string {
  switch (code) {
    case "NOT_ENROLLED":
      return "The participant does not hold this programme.";
    case "NOT_COVERED":
      return "No contribution covers the month of the incident; record the payment first.";
    case "HEIR_REQUIRED":
      return "Add the heir who receives the benefit.";
    case "INVALID_NIK":
      return "Check the NIK against the identity card.";
    default:
      return "The claim was refused; the message says why.";
  }
}
