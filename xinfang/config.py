"""Configuration from the environment (pydantic-settings). Every number a rule uses lives here
or in the service's own settings, with the legal value as default."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICES = ("intake", "routing", "supervision", "reporting")
CONSOLE = "web"  # the web console: no database, no events; `xinfang up` starts it after the services
DEFAULT_PORTS = {"web": 8000, "intake": 8001, "routing": 8002, "supervision": 8003, "reporting": 8004}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XINFANG_", extra="ignore")

    data_dir: Path = Field(default=Path(".xinfang"), description="SQLite files, logs, Faust data")
    kafka_bootstrap_servers: str | None = Field(default=None, validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    topic_partitions: int = 4
    broker: Literal["tansu", "kafka"] = Field(
        default="tansu", description="which broker: the embedded tansu, or Apache Kafka (XINFANG_BROKER)")
    checkpoint_events: int = Field(
        default=1000, ge=1, description="sign a checkpoint of the event chain after this many new events")
    checkpoint_seconds: float = Field(
        default=300, gt=0, description="... or after this many seconds, when any event came")
    republish_on_start: bool = Field(
        default=False, description="re-send every stored event on start (the broker lost its data)")
    pii_key: str = Field(
        default="dev-only-key-change-me-in-production-0000",
        description="secret for encrypting and hashing ID and phone numbers")
    pii_previous_keys: str = Field(
        default="", description="during a rotation: the PII keys used before, separated by spaces; "
                                "read, never written (docs/operations.md)")
    log_level: str = "INFO"
    backdate_days: int = Field(
        default=3, ge=0, le=3650,
        description="how many days back a user may date an act recorded late (补录), with its reason; further "
                    "back only a role permitted to correct records (xinfang.business_time)")

    @field_validator("pii_key")
    @classmethod
    def _pii_key_is_a_secret(cls, v: str) -> str:
        # docker-compose passes an unset secret as ""; a short key would make the blind index guessable
        if len(v) < 32:
            raise ValueError("XINFANG_PII_KEY is empty or shorter than 32 characters: set it to a long random "
                             "secret / XINFANG_PII_KEY 未设置或少于 32 个字符：请设置足够长的随机密钥")
        return v

    @field_validator("pii_previous_keys")
    @classmethod
    def _previous_keys_are_secrets(cls, v: str) -> str:
        if any(len(k) < 32 for k in v.split()):
            raise ValueError("XINFANG_PII_PREVIOUS_KEYS holds a key shorter than 32 characters: give the old keys "
                             "whole, separated by spaces / XINFANG_PII_PREVIOUS_KEYS 中有少于 32 个字符的密钥："
                             "请完整填写旧密钥，以空格分隔")
        return v

    def pii_vault(self):
        """The PII keys as intake uses them: the current one, then any previous ones."""
        from xinfang.privacy import PiiVault

        return PiiVault(self.pii_key, self.pii_previous_keys.split())


class ServiceSettings(BaseSettings):
    """Per service: ``<NAME>_PORT``, ``<NAME>_DATABASE_URL``, ``<NAME>_HOST``."""

    model_config = SettingsConfigDict(extra="ignore")
    name: str
    host: str = "127.0.0.1"
    port: int
    database_url: str


@lru_cache
def settings() -> Settings:
    return Settings()


def service_settings(name: str) -> ServiceSettings:
    import os

    s = settings()
    up = name.upper()
    return ServiceSettings(
        name=name,
        host=os.environ.get(f"{up}_HOST", "127.0.0.1"),
        port=int(os.environ.get(f"{up}_PORT", DEFAULT_PORTS[name])),
        database_url=os.environ.get(f"{up}_DATABASE_URL", f"sqlite:///{(s.data_dir / f'{name}.db').resolve()}"),
    )
