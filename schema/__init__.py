"""The GraphQL schema (Strawberry, Apollo Federation 2 subgraph). Imports domain and auth."""
