"""Settings from ``JAMSOS_*`` environment variables, with a ``.env`` file read when present."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schema.limits import MAX_ENTITY_REPRESENTATIONS, Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JAMSOS_", env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    #: Where the embedded database and the generated signing key live.
    data_dir: Path = Path("data")
    database_url: str = ""
    #: ES256 private key (PEM). Generated on first use when missing.
    signing_key_path: Path | None = None
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "jamsos-graph"
    token_lifetime_seconds: int = Field(default=900, gt=0, le=86_400)
    log_level: str = "INFO"
    log_json: bool = True
    max_body_bytes: int = 1_000_000
    #: Representations one federation ``_entities`` call may carry (schema.limits); more are refused.
    max_entity_representations: int = Field(default=MAX_ENTITY_REPRESENTATIONS, gt=0, le=100_000)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'jamsos.db'}"

    @property
    def limits(self) -> Limits:
        return Limits(max_entity_representations=self.max_entity_representations)

    @property
    def resolved_signing_key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "signing-key.pem"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
