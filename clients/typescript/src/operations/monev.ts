// What a regional government's Monev dashboard asks: coverage of every sub-region, and one region's trend.
// Figures withheld by small-count suppression come back null with `suppressed: true`.
import { graphql } from "../gql/index.js";

export const CoverageByRegion = graphql(`
  query CoverageByRegion($parentCode: String!, $asOf: Date) {
    coverageByRegion(parentCode: $parentCode, asOf: $asOf) {
      month
      region { code name }
      participants
      activeParticipants
      coverageRate
      target
      gapToTarget
      suppressed
      extremePoor { total enrolled active enrollmentRate }
    }
  }
`);

export const CoverageTrend = graphql(`
  query CoverageTrend($regionCode: String!, $from: Date!, $to: Date!) {
    coverageTrend(regionCode: $regionCode, from: $from, to: $to) {
      month
      participants
      activeParticipants
      coverageRate
      suppressed
    }
  }
`);
