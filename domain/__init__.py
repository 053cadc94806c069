"""The domain: SQLAlchemy models and the rules of employment social security. Imports nothing of ours."""
