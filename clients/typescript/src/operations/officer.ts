// What a branch officer's claim screens ask: a participant by membership number, the region's claim queue
// page by page, and the claim workflow (submit, verify, approve). Every mutation answers with `errors`
// (code, field, message) instead of throwing: switch on `code`.
import { graphql } from "../gql/index.js";

export const ParticipantByMembershipNumber = graphql(`
  query ParticipantByMembershipNumber($membershipNumber: String!) {
    participant(membershipNumber: $membershipNumber) {
      id
      membershipNumber
      fullName
      nik
      segment
      status
      paidThrough
      contributionMonths
      region { code name }
      programs { program since }
      claims(first: 10) {
        totalCount
        edges { node { id claimNumber program status incidentDate amountApproved } }
      }
    }
  }
`);

export const ClaimQueue = graphql(`
  query ClaimQueue($regionCode: String!, $status: ClaimStatus, $first: Int!, $after: String) {
    claims(filter: { regionCode: $regionCode, status: $status }, first: $first, after: $after) {
      totalCount
      edges {
        cursor
        node {
          id
          claimNumber
          program
          status
          incidentDate
          submittedAt
          version
          participant { membershipNumber fullName }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const SubmitClaim = graphql(`
  mutation SubmitClaim($input: SubmitClaimInput!) {
    submitClaim(input: $input) {
      errors { field code message }
      claim { id claimNumber program status version }
    }
  }
`);

export const VerifyClaim = graphql(`
  mutation VerifyClaim($id: ID!, $expectedVersion: Int!, $note: String) {
    verifyClaim(id: $id, expectedVersion: $expectedVersion, note: $note) {
      errors { field code message }
      claim { id status version }
    }
  }
`);

export const ApproveClaim = graphql(`
  mutation ApproveClaim($id: ID!, $expectedVersion: Int!, $note: String) {
    approveClaim(id: $id, expectedVersion: $expectedVersion, note: $note) {
      errors { field code message }
      claim { id status version amountApproved }
    }
  }
`);
