"""GraphQL API (Strawberry on FastAPI): schema, resolvers, DataLoaders, auth and masking."""
