"""The poverty registry (DTSEN) in GraphQL: the beneficiary type, the list's filters, the query fields, the list
import and enrolment mutations."""
