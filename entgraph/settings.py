"""Platform settings, read from the environment (``ENTGRAPH_*`` and Neo4j's own ``NEO4J_*``).

Settings are built once at the edge (the CLI or the API factory) and passed down explicitly; no module
reads the environment on its own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENTGRAPH_", extra="ignore")

    home: Path = Field(
        default=Path(".entgraph"),
        description="Data home: the embedded store, series, reports and logs live below it.",
    )
    graph: str = Field(
        default="embedded",
        description=(
            "Which graph store: 'embedded' (FalkorDB started by entgraph), "
            "'falkordb://[:PASSWORD@]HOST:PORT' (a FalkorDB server), or 'neo4j' / a neo4j:// or bolt:// URI."
        ),
    )
    graph_name: str = Field(default="entgraph", description="Graph (FalkorDB key / Neo4j database) name.")
    batch_size: int = Field(default=2000, ge=1, le=100_000, description="Rows per UNWIND batch on writes.")
    store_port: int = Field(
        default=0, ge=0, le=65535, description="Embedded store TCP port on 127.0.0.1; 0 picks a free one."
    )
    specs: str = Field(
        default="", description="Extra folders of dataset spec files (*.toml), separated by ':'."
    )
    store_start_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the store.")

    link_threshold: float = Field(
        default=0.95, gt=0, lt=1, description="Match probability at which a code-less record is linked."
    )
    review_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Match probability from which it goes to a steward instead."
    )
    threads: int = Field(default=2, ge=1, le=256, description="Threads for matching (DuckDB).")
    user: str | None = Field(
        default=None, description="Who is acting (steward judgements record it); else the login name."
    )

    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER"))
    neo4j_password: SecretStr = Field(default=SecretStr(""), validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_DATABASE"))

    @property
    def spec_dirs(self) -> list[Path]:
        return [Path(p) for p in self.specs.split(":") if p.strip()]

    @property
    def report_dir(self) -> Path:
        return self.home / "reports"

    @property
    def model_path(self) -> Path:
        """The trained matcher (Splink settings with its parameters), reused until retrained."""
        return self.home / "resolution" / "model.json"
