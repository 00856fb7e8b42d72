"""Platform settings, read from the environment (``ENTGRAPH_*`` and Neo4j's own ``NEO4J_*``).

Settings are built once at the edge (the CLI or the API factory) and passed down explicitly; no module
reads the environment on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
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
            "Which graph store: 'embedded' (FalkorDB started by entgraph), 'neo4j-embedded' (Neo4j "
            "Community started by entgraph), 'falkordb://[:PASSWORD@]HOST:PORT' (a FalkorDB server), or "
            "'neo4j' / a neo4j:// or bolt:// URI."
        ),
    )
    graph_name: str = Field(default="entgraph", description="Graph (FalkorDB key / Neo4j database) name.")
    batch_size: int = Field(default=2000, ge=1, le=100_000, description="Rows per UNWIND batch on writes.")
    graph_query_timeout_ms: int = Field(
        default=10_000,
        ge=0,
        description="Longest a read statement may run (ms) before the store stops it (FalkorDB TIMEOUT, "
        "Neo4j transaction timeout); 0: no limit. Writes are never given one.",
    )
    store_port: int = Field(
        default=0, ge=0, le=65535, description="Embedded store TCP port on 127.0.0.1; 0 picks a free one."
    )
    specs: str = Field(
        default="", description="Extra folders of dataset spec files (*.toml), separated by ':'."
    )
    store_start_timeout: float = Field(default=60.0, gt=0, description="Seconds to wait for the store.")
    neo4j_heap: str = Field(default="512m", description="JVM heap of the embedded Neo4j (java -Xmx).")
    neo4j_pagecache: str = Field(
        default="256m", description="Page cache of the embedded Neo4j (server.memory.pagecache.size)."
    )
    store_autostart: bool = Field(
        default=True,
        description="Start the embedded store on first use; false: only 'entgraph store start' starts it "
        "and every other command (serve too) needs it running.",
    )

    link_threshold: float = Field(
        default=0.95, gt=0, lt=1, description="Match probability at which a code-less record is linked."
    )
    review_threshold: float = Field(
        default=0.5, gt=0, lt=1, description="Match probability from which it goes to a steward instead."
    )
    threads: int = Field(default=2, ge=1, le=256, description="Threads for matching (DuckDB).")
    match_engine: Literal["duckdb", "spark"] = Field(
        default="duckdb",
        description="Where the matcher scores pairs: 'duckdb' (in process) or 'spark' (Splink's SparkAPI; "
        "needs pip install 'entgraph[spark]' and Java 17 or 21). Training always runs in DuckDB.",
    )
    spark_master: str = Field(
        default="local[2]",
        description="Spark master for --engine spark: local[N], spark://HOST:7077, yarn or k8s://...",
    )
    spark_driver_memory: str = Field(default="2g", description="spark.driver.memory for --engine spark.")
    spark_partitions: int = Field(
        default=4, ge=1, description="Spark shuffle partitions: 2-3x the executor cores."
    )
    spark_jaro_winkler: Literal["duckdb", "jar"] = Field(
        default="duckdb",
        description="'duckdb': Jaro-Winkler exactly as DuckDB computes it (a Python UDF, so the same "
        "links); 'jar': Splink's JVM function, faster, may differ on pairs near a threshold.",
    )
    spark_work_dir: Path | None = Field(
        default=None,
        description="Where Spark jobs exchange Parquet and checkpoint (default $ENTGRAPH_HOME/spark); "
        "on a cluster, storage the driver and every executor see.",
    )
    user: str | None = Field(
        default=None, description="Who is acting (steward judgements record it); else the login name."
    )

    # -- the GraphQL API (entgraph serve) ---------------------------------------------------------
    api_mode: Literal["development", "production"] = Field(
        default="development",
        description="'production' turns off GraphiQL, introspection and field suggestions.",
    )
    api_jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 secret for bearer tokens (at least 32 characters); unset: tokens are refused.",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="File of API key hashes (TOML, or JSON if *.json); default $ENTGRAPH_HOME/api-keys.toml",
    )
    api_cors_origins: str = Field(
        default="", description="Browser origins allowed to call the API, separated by ','; none by default."
    )
    api_console: bool = Field(
        default=True, description="Serve the web console at /console/ (static pages over /graphql)."
    )
    api_max_depth: int = Field(default=10, ge=1, le=100, description="Deepest field nesting a query may use.")
    api_max_aliases: int = Field(default=15, ge=0, le=1000, description="Most aliases a query may use.")
    api_max_cost: int = Field(
        default=5000, ge=1, description="Highest cost a query may have (see docs/api.md, limits)."
    )
    api_max_body_bytes: int = Field(
        default=256 * 1024, ge=1024, description="Largest request body the API reads (bytes); larger: 413."
    )
    worker_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much `entgraph worker` yields the CPU to the API (nice): loads are batch work, "
        "answers to people are not.",
    )
    worker_resolve: bool = Field(
        default=True,
        description="`entgraph worker` resolves when its queue empties after loading something, so what "
        "was sent from the console is linked (and honours of enterprises now named by 失信 records come "
        "down) with no one at a shell.",
    )
    worker_busy_batch_size: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Rows per write in `entgraph worker` while the API is answering queries (else "
        "ENTGRAPH_BATCH_SIZE): FalkorDB's reads wait for a write, so short writes keep answers quick.",
    )
    upload_max_bytes: int = Field(
        default=512 * 1024 * 1024,
        ge=1024,
        description="Largest request body POST /uploads reads (bytes): department files of 200,000+ rows.",
    )
    api_max_string_length: int = Field(
        default=1000, ge=16, description="Longest string argument or variable value (characters)."
    )
    api_max_list_length: int = Field(
        default=1000, ge=1, description="Longest list argument or variable value (items)."
    )
    api_max_selections: int = Field(
        default=1500, ge=10, description="Most field selections one document may hold (fragments once)."
    )
    api_rate_anonymous: float = Field(
        default=20.0, ge=0, description="Requests per second an anonymous client address may make (0: off)."
    )
    api_rate_authenticated: float = Field(
        default=200.0, ge=0, description="Requests per second one API key or token subject may make (0: off)."
    )
    api_registered_only: str = Field(
        default="",
        description="Roles (comma-separated, e.g. public) that may run registered GraphQL documents only: "
        "the console's and the documented examples (api/persisted_queries.py).",
    )
    api_cache_mb: int = Field(
        default=64,
        ge=0,
        description="Memory each API process keeps whole panorama answers in (MB; 0: no response cache). "
        "Exact: see docs/api.md, the response cache.",
    )
    api_cache_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Longest a cached answer is served (seconds): meter series, read outside the graph, "
        "stay this fresh (the 5-minute electricity interval).",
    )
    api_max_token_days: int = Field(
        default=31, ge=1, description="Longest lifetime (exp - iat, or exp - now) a bearer token may have."
    )

    # -- telemetry (entgraph telemetry ...) --------------------------------------------------------
    mqtt: str = Field(
        default="embedded",
        description="MQTT broker: 'embedded' (mosquitto started by entgraph) or 'mqtt://HOST:PORT'.",
    )
    mqtt_port: int = Field(
        default=0, ge=0, le=65535, description="Embedded broker's port on 127.0.0.1; 0 picks a free one once."
    )
    mqtt_binary: Path | None = Field(
        default=None,
        description="The mosquitto executable for the embedded broker (default: found on PATH or in "
        "/usr/sbin).",
    )
    mqtt_group: str = Field(
        default="entgraph", description="Shared-subscription group of the ingesters ('' for none)."
    )
    series_hot_days: int = Field(
        default=40,
        ge=1,
        description="Days of readings the ingester keeps in its DuckDB file (the dedup index of recent "
        "readings); older months live on in Parquet only (see docs/series-store.md, retention).",
    )
    warning_rules: Path | None = Field(
        default=None, description="TOML file of warning rules; default $ENTGRAPH_HOME/warning-rules.toml."
    )
    neo4j_uri: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=AliasChoices("NEO4J_USER"))
    neo4j_password: SecretStr = Field(default=SecretStr(""), validation_alias=AliasChoices("NEO4J_PASSWORD"))
    neo4j_database: str | None = Field(default=None, validation_alias=AliasChoices("NEO4J_DATABASE"))

    @field_validator("api_jwt_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is not None and not secret.get_secret_value():
            return None  # ENTGRAPH_API_JWT_SECRET= (empty) means unset
        # A short HMAC secret can be brute-forced offline from one captured token.
        if secret is not None and len(secret.get_secret_value()) < 32:
            raise ValueError(
                "must be at least 32 characters; make one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return secret

    @property
    def api_keys_path(self) -> Path:
        """Where API key hashes are kept: ``api_keys_file``, else ``$ENTGRAPH_HOME/api-keys.toml``."""
        return self.api_keys_file or self.home / "api-keys.toml"

    @property
    def cors_origins(self) -> list[str]:
        return [origin.strip() for origin in self.api_cors_origins.split(",") if origin.strip()]

    @property
    def series_dir(self) -> Path:
        """The series store of meter readings (DuckDB + Parquet)."""
        return self.home / "series"

    @property
    def warning_rules_path(self) -> Path:
        return self.warning_rules or self.home / "warning-rules.toml"

    @property
    def spec_dirs(self) -> list[Path]:
        return [Path(p) for p in self.specs.split(":") if p.strip()]

    @property
    def report_dir(self) -> Path:
        return self.home / "reports"

    @property
    def inbox_dir(self) -> Path:
        """Files submitted over HTTP, kept as received (one folder per upload job)."""
        return self.home / "inbox"

    @property
    def spark_dir(self) -> Path:
        return self.spark_work_dir or self.home / "spark"

    @property
    def model_path(self) -> Path:
        """The trained matcher (Splink settings with its parameters), reused until retrained."""
        return self.home / "resolution" / "model.json"
