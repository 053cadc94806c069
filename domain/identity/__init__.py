"""Identity: service users, OAuth clients, codes, refresh tokens, revocations and signing keys."""
