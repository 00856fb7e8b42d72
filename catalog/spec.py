"""Dataset specs: every department feed described as data, read by one loading engine.

A spec is a TOML file (``catalog/specs/*.toml`` ships all 84 seed datasets; integrators add their own).
It says what the feed is (department, title exactly as the seed writes it, frequency, deadline), what
its columns are (the seed's Chinese header -> field, type, required, role, sharing attributes), and
what its rows become in the graph (a source-record label, derived nodes, metrics).

Validation here is strict and its errors name the file and the offending key, because integrators
write these by hand.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from entgraph.errors import ConfigurationError


class Usage(StrEnum):
    """Sharing class of a field, as the city's data-sharing catalogue writes it."""

    UNCONDITIONAL = "无条件使用"
    CONDITIONAL = "有条件使用"
    NOT_SHARED = "不予共享"


class Sharing(BaseModel):
    """Who may see a field. Dataset defaults, overridable per column."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    usage: Usage = Usage.CONDITIONAL
    open_to_public: bool = False  # 面向社会开放
    credit: bool = False  # credit data (信用信息): shown only to roles cleared for it
    personal: bool = False  # personal data: masked for roles that may not see it


class FieldType(StrEnum):
    """How a cell is parsed and normalised."""

    TEXT = "text"
    INTEGER = "integer"
    DECIMAL = "decimal"
    AMOUNT = "amount"  # money; units 元/万元/亿元 in header or cell; stored in yuan
    AREA = "area"  # 平方米/亩/公顷; stored in square metres
    QUANTITY = "quantity"  # a measured amount with its own unit (kWh, 吨, 立方米); stored as given
    PERCENT = "percent"  # "12.5%" or 12.5 -> 12.5
    DATE = "date"
    DATETIME = "datetime"
    PERIOD = "period"  # 202304, 2023-04, 2023年4月, 2023年一季度, 2023 -> a period
    YEAR = "year"
    BOOLEAN = "boolean"  # 是/否, Y/N, 1/0
    CREDIT_CODE = "credit_code"  # 18-char unified social credit code, validated by its check char
    ORG_CODE = "org_code"  # 9-char organisation code (GB 11714)
    TAXPAYER_ID = "taxpayer_id"  # 15/18/20-char taxpayer identification number
    PHONE = "phone"
    ID_NUMBER = "id_number"  # resident identity card number (personal data)
    GEOMETRY = "geometry"  # a point or area: WKT, GeoJSON or "lng,lat"; stored as GeoJSON text


class Role(StrEnum):
    """What a column means to resolution and the graph writer (independent of its type)."""

    # identity of an enterprise (a party of the record)
    CREDIT_CODE = "credit_code"
    ORG_CODE = "org_code"
    TAXPAYER_ID = "taxpayer_id"
    ENTERPRISE_NAME = "enterprise_name"
    FORMER_NAME = "former_name"
    ENTITY_TYPE = "entity_type"  # 企业类型 / 市场主体类型
    REGISTERED_CAPITAL = "registered_capital"
    ESTABLISHED = "established"  # 成立日期 / 注册时间
    STATUS = "status"  # 登记状态
    BUSINESS_SCOPE = "business_scope"
    # people and contact
    LEGAL_REPRESENTATIVE = "legal_representative"
    CONTACT_PERSON = "contact_person"
    PERSON_NAME = "person_name"
    PHONE = "phone"
    ID_NUMBER = "id_number"
    ADDRESS = "address"
    BANK_ACCOUNT = "bank_account"
    # place and classification
    TOWN = "town"  # 乡镇/街道
    REGION = "region"  # 区县/所属区域 (for region datasets: the subject)
    PARK = "park"
    INDUSTRY_CODE = "industry_code"  # GB/T 4754
    INDUSTRY_NAME = "industry_name"
    INDUSTRY_CHAIN = "industry_chain"
    CHAIN_POSITION = "chain_position"  # 上游/中游/下游
    # time
    PERIOD = "period"
    PERIOD_START = "period_start"
    PERIOD_END = "period_end"
    YEAR = "year"
    DATE = "date"
    # facts
    AMOUNT = "amount"
    AREA = "area"
    QUANTITY = "quantity"
    COUNT = "count"
    RATE = "rate"
    CATEGORY = "category"  # a kind/type code of the record (e.g. which credit list)
    IDENTIFIER = "identifier"  # a document, certificate, parcel, project or contract number
    NAME = "name"  # the name of a non-enterprise thing (project, product, building)
    ACCOUNT_NUMBER = "account_number"  # utility account (户号)
    METER_ID = "meter_id"
    INDICATOR_NAME = "indicator_name"
    INDICATOR_VALUE = "indicator_value"
    TEXT = "text"


IDENTITY_ROLES = frozenset(
    {Role.CREDIT_CODE, Role.ORG_CODE, Role.TAXPAYER_ID, Role.ENTERPRISE_NAME, Role.ACCOUNT_NUMBER}
)


class Frequency(StrEnum):
    FIVE_MINUTES = "5min"
    HOURLY = "hourly"
    DAILY = "daily"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    ANNUAL = "annual"
    ON_CHANGE = "on_change"  # 有变更及时更新
    FULL_SNAPSHOT = "full_snapshot"  # 全量 (front-end processor exports)


class Subject(StrEnum):
    ENTERPRISE = "enterprise"  # rows are about one or more enterprises (parties)
    REGION = "region"  # rows are indicator values of a city, town, park or region
    METER = "meter"  # rows are meter readings (telemetry feeds)


class ColumnSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    header: str = Field(description="The header as the seed writes it (simplified Chinese).")
    field: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Our field name (snake_case ASCII).")
    type: FieldType = FieldType.TEXT
    required: bool = False
    role: Role | None = None
    party: str = Field(default="subject", description="Which party of the record this identifies.")
    aliases: tuple[str, ...] = Field(default=(), description="Other headers departments use for it.")
    unit: str | None = Field(default=None, description="Default unit when neither header nor cell says.")
    values: tuple[str, ...] = Field(default=(), description="Allowed values (categories), if closed.")
    sharing: Sharing | None = Field(default=None, description="Overrides the dataset's sharing.")
    designed: bool = Field(default=False, description="Not in the seed: designed by us (see notes).")
    description: str = ""


class PartySpec(BaseModel):
    """An enterprise a record is about, besides (or instead of) the subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    relation: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Edge type from record to enterprise.")
    description: str = ""


class NodeSpec(BaseModel):
    """A domain node a row creates or updates (LandParcel, Mortgage, Project, Honor, CreditEvent...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    key: tuple[str, ...] = Field(min_length=1, description="Fields whose values identify the node.")
    properties: tuple[str, ...] = ()
    relation: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$", description="Edge type from record to node.")
    constants: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Fixed properties, e.g. kind = '高新技术企业'."
    )


class MetricSpec(BaseModel):
    """A monthly (or other period) figure the row reports for its subject."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="tax, revenue, electricity_kwh, ...")
    value: str = Field(description="Field holding the value.")
    period: str | None = Field(default=None, description="Field holding the period; else the upload's.")
    unit: str


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$", description="Stable ASCII key, e.g. jj_tax_receipts.")
    city: Literal["晋江", "乌海"] | str
    department: str
    title: str = Field(description="The dataset's title exactly as the seed writes it.")
    seed: str = Field(description="Seed document file name.")
    seed_fields: tuple[str, ...] = Field(
        description="The field list exactly as the catalog names them, in order."
    )
    frequency: Frequency
    deadline: timedelta | None = Field(
        default=None, description="How long after a period ends its data is due (ISO 8601, e.g. P5D)."
    )
    first_collection: str = ""
    subject: Subject = Subject.ENTERPRISE
    record_label: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", description="Label of its source records.")
    sharing: Sharing = Sharing()
    columns: tuple[ColumnSpec, ...] = Field(min_length=1)
    parties: dict[str, PartySpec] = Field(default_factory=dict)
    nodes: tuple[NodeSpec, ...] = ()
    metrics: tuple[MetricSpec, ...] = ()
    record_key: tuple[str, ...] = Field(
        default=(),
        description=(
            "Fields that identify a record across files (e.g. credit code + period in a full snapshot). "
            "Without it a record is identified by its place: file name, sheet and row."
        ),
    )
    file_patterns: tuple[str, ...] = Field(default=(), description="Globs that identify its files.")
    notes: str = ""

    @field_validator("columns")
    @classmethod
    def _unique_columns(cls, columns: tuple[ColumnSpec, ...]) -> tuple[ColumnSpec, ...]:
        for attr in ("field", "header"):
            seen: set[str] = set()
            for column in columns:
                value = getattr(column, attr)
                if value in seen:
                    raise ValueError(f"two columns share the {attr} {value!r}")
                seen.add(value)
        return columns

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        fields = {c.field for c in self.columns}
        for node in self.nodes:
            missing = [f for f in (*node.key, *node.properties) if f not in fields]
            if missing:
                raise ValueError(f"node {node.label} uses unknown fields {missing}")
        missing_key = [f for f in self.record_key if f not in fields]
        if missing_key:
            raise ValueError(f"record_key uses unknown fields {missing_key}")
        for metric in self.metrics:
            missing = [f for f in (metric.value, metric.period) if f and f not in fields]
            if missing:
                raise ValueError(f"metric {metric.name} uses unknown fields {missing}")
        parties = {c.party for c in self.columns if c.role in IDENTITY_ROLES}
        undeclared = parties - {"subject"} - set(self.parties)
        if undeclared:
            raise ValueError(f"columns name parties {sorted(undeclared)} missing from [parties]")
        if self.subject is Subject.ENTERPRISE and "subject" not in parties and not self.parties:
            raise ValueError(
                "an enterprise dataset needs at least one identity column "
                "(credit_code, org_code, taxpayer_id, enterprise_name or account_number role)"
            )
        return self

    @property
    def owner(self) -> str:
        """The department that submits it, as a department role's scope names it: ``city:department``."""
        return f"{self.city}:{self.department}"

    @property
    def names_enterprises(self) -> bool:
        """Do its rows name enterprises (as subject or party)? Then resolution links them."""
        return self.subject is Subject.ENTERPRISE or bool(self.parties)

    def column(self, field: str) -> ColumnSpec:
        for column in self.columns:
            if column.field == field:
                return column
        raise KeyError(field)

    def sharing_of(self, column: ColumnSpec) -> Sharing:
        return column.sharing or self.sharing


def load_spec(path: Path) -> DatasetSpec:
    """Read and validate one spec file; errors name the file and the offending key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"cannot read dataset spec {path}: {exc.strerror}") from None
    try:
        return DatasetSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise ConfigurationError(f"dataset spec {path} is invalid: {problems}") from None
