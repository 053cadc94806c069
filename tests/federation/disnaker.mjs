// A second subgraph, written the way another agency's team would: a manpower office (Dinas Tenaga Kerja,
// "disnaker") that registers job seekers (card AK/1), runs job training and knows the vacancies per region.
//
// It joins the Jamsos graph only by keys:
// - extends Participant (by membershipNumber) with the person's job-seeker card and trainings;
// - extends Region (by code) with open vacancies and the responsible office;
// - resolves Company (by bpjsRegistrationNumber), the stub Jamsos points at from an employer;
// - references Jamsos's Claim (by id) without holding any claim data;
// - pages with a Relay connection, so PageInfo is a value type both subgraphs define (@shareable).
//
// Usage: node disnaker.mjs --data FILE.json --fd N   (serves POST /graphql on the listening socket N)
import { readFile } from 'node:fs/promises';
import { stdout } from 'node:process';
import { parseArgs } from 'node:util';

import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

const typeDefs = parse(`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key", "@shareable"])

  "A person registered as a job seeker (card AK/1) at a manpower office."
  type JobSeeker @key(fields: "id") {
    id: ID!
    "Job-seeker card (AK/1) number."
    cardNumber: String!
    "Date of registration, ISO 8601."
    registeredOn: String!
    "Skills as recorded at registration."
    skills: [String!]!
    "The BPJS Ketenagakerjaan participant (resolved by the Jamsos subgraph)."
    participant: Participant
    "The job-loss (JKP) claim that referred this person (resolved by the Jamsos subgraph)."
    jobLossClaim: Claim
    "Where the person registered."
    region: Region
  }

  type JobSeekerEdge {
    cursor: String!
    node: JobSeeker!
  }

  type JobSeekerConnection {
    edges: [JobSeekerEdge!]!
    pageInfo: PageInfo!
  }

  "Relay page information; the same value type in every subgraph that pages."
  type PageInfo @shareable {
    hasNextPage: Boolean!
    hasPreviousPage: Boolean!
    startCursor: String
    endCursor: String
  }

  "A job training the manpower office ran."
  type Training {
    title: String!
    completedOn: String!
  }

  type Participant @key(fields: "membershipNumber") {
    membershipNumber: String!
    "The participant's registration as a job seeker, if any."
    jobSeeker: JobSeeker
    "Trainings completed at the manpower office."
    trainings: [Training!]!
  }

  type Region @key(fields: "code") {
    code: String!
    "Vacancies posted for this region and not yet filled."
    openVacancies: Int!
    "The manpower office responsible for the region."
    manpowerOffice: String
  }

  "A company in the compulsory workforce reporting (WLKP), by its BPJS Ketenagakerjaan registration."
  type Company @key(fields: "bpjsRegistrationNumber") {
    bpjsRegistrationNumber: String!
    "WLKP report number."
    wlkpNumber: String!
    "Workers the company reported."
    reportedWorkers: Int!
  }

  type Claim @key(fields: "id", resolvable: false) {
    id: ID!
  }

  type Query {
    "Registered job seekers, oldest registration first."
    jobSeekers(first: Int = 10, after: String): JobSeekerConnection!
    "One job seeker by card number."
    jobSeeker(cardNumber: String!): JobSeeker
  }
`);

function resolversFor(data) {
  const seekers = data.seekers;
  const byId = new Map(seekers.map((s) => [s.id, s]));
  const byMembership = new Map(seekers.map((s) => [s.membershipNumber, s]));
  const seekerOut = (s) => ({ ...s });
  return {
    Query: {
      jobSeekers(_, { first, after }) {
        const start = after ? seekers.findIndex((s) => s.id === after) + 1 : 0;
        const page = seekers.slice(start, start + first);
        return {
          edges: page.map((s) => ({ cursor: s.id, node: seekerOut(s) })),
          pageInfo: {
            hasNextPage: start + first < seekers.length,
            hasPreviousPage: start > 0,
            startCursor: page[0]?.id ?? null,
            endCursor: page.at(-1)?.id ?? null,
          },
        };
      },
      jobSeeker: (_, { cardNumber }) => seekers.find((s) => s.cardNumber === cardNumber) ?? null,
    },
    JobSeeker: {
      __resolveReference: ({ id }) => byId.get(id) ?? null,
      // Only keys leave this subgraph; the gateway asks Jamsos for everything else.
      participant: (s) => ({ membershipNumber: s.membershipNumber }),
      jobLossClaim: (s) => (s.claimId ? { id: s.claimId } : null),
      region: (s) => ({ code: s.regionCode }),
    },
    Participant: {
      __resolveReference: ({ membershipNumber }) => ({ membershipNumber }),
      jobSeeker: ({ membershipNumber }) => byMembership.get(membershipNumber) ?? null,
      trainings: ({ membershipNumber }) => byMembership.get(membershipNumber)?.trainings ?? [],
    },
    Region: {
      __resolveReference: ({ code }) => ({ code }),
      openVacancies: ({ code }) => data.regions[code]?.openVacancies ?? 0,
      manpowerOffice: ({ code }) => data.regions[code]?.manpowerOffice ?? null,
    },
    Company: {
      __resolveReference: ({ bpjsRegistrationNumber }) => {
        const company = data.companies[bpjsRegistrationNumber];
        return company ? { bpjsRegistrationNumber, ...company } : null;
      },
    },
  };
}

const { values } = parseArgs({ options: { data: { type: 'string' }, fd: { type: 'string' } } });
const data = JSON.parse(await readFile(values.data, 'utf8'));
const server = new ApolloServer({
  schema: buildSubgraphSchema({ typeDefs, resolvers: resolversFor(data) }),
  includeStacktraceInErrorResponses: false,
});
const { url } = await startStandaloneServer(server, { listen: { fd: Number(values.fd) } });
stdout.write(`disnaker subgraph at ${url}\n`);
