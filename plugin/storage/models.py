"""The model of DESIGN.md: shops, the webhook inbox, order snapshots, incidents, compensations, messages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from plugin.vocabulary import (
    OPEN_STATUSES,
    Audience,
    CauseType,
    Channel,
    CompensationAction,
    CompensationState,
    CrisisStatus,
    IncidentStatus,
    Kind,
    MessageState,
    Platform,
    Purpose,
    Responsibility,
    values,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}



def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


Money = Numeric(18, 4, asdecimal=True)


def words(vocabulary: type[StrEnum], length: int) -> Enum:
    """A column holding one word of a vocabulary: stored as its plain string (VARCHAR, no database enum
    type to migrate), read back as the member, and an unknown word is refused before it is written."""
    return Enum(vocabulary, native_enum=False, length=length, validate_strings=True, values_callable=values)


# The partial unique index below is written in SQL: the open statuses, spelled from the vocabulary.
_OPEN_SQL = "status IN (" + ", ".join(f"'{s.value}'" for s in IncidentStatus if s in OPEN_STATUSES) + ")"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[Platform] = mapped_column(words(Platform, 20))
    # Shopify: the myshopify.com host; WooCommerce: the store's base URL.
    domain: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    credentials: Mapped[str | None] = mapped_column(Text)  # Fernet token of a JSON object
    webhook_secret: Mapped[str | None] = mapped_column(Text)  # Fernet token
    api_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin_url: Mapped[str | None] = mapped_column(String(500))
    owner_email: Mapped[str | None] = mapped_column(String(320), index=True)  # where sign-in links go
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_synced_at: Mapped[datetime | None]
    # Where an unfinished reconciliation pass stopped (its window and page cursor), so the next resumes.
    sync_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Why the last reconciliation pass of this shop stopped short, and when; cleared by a finished pass.
    sync_error: Mapped[str | None] = mapped_column(Text)
    sync_error_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("platform", "domain"),)


class WebhookDelivery(Base):
    """The inbox: every verified delivery, stored before it is acknowledged."""

    __tablename__ = "webhook_deliveries"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform: Mapped[Platform] = mapped_column(words(Platform, 20))
    topic: Mapped[str] = mapped_column(String(100))
    delivery_key: Mapped[str] = mapped_column(String(128))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("platform", "delivery_key"),
        # The drain reads only pending rows, oldest first.
        Index("ix_webhook_deliveries_pending", "id", sqlite_where=text("processed_at IS NULL"),
              postgresql_where=text("processed_at IS NULL")),
        # ... and shares each batch among the shops that have some, each shop's oldest first.
        Index("ix_webhook_deliveries_pending_shop", "shop_id", "id", sqlite_where=text("processed_at IS NULL"),
              postgresql_where=text("processed_at IS NULL")),
        # The purge finds processed rows past their retention without reading the rest.
        Index("ix_webhook_deliveries_processed", "processed_at", sqlite_where=text("processed_at IS NOT NULL"),
              postgresql_where=text("processed_at IS NOT NULL")),
    )


class Order(Base):
    """The normalized snapshot of one platform order (OrderFacts), plus what the sweep needs."""

    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    platform_order_id: Mapped[str] = mapped_column(String(64))
    number: Mapped[str | None] = mapped_column(String(64))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    total: Mapped[Decimal | None] = mapped_column(Money)
    shipping: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    financial_status: Mapped[str | None] = mapped_column(String(40))
    fulfillment_status: Mapped[str | None] = mapped_column(String(40))
    platform_status: Mapped[str | None] = mapped_column(String(60))
    cancelled_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    carrier: Mapped[str | None] = mapped_column(String(100))
    # Where it goes and how (for the desk's filters and the analytics' lanes): ISO country, its region's
    # code (a province, a state) and the shipping service the customer chose.
    country: Mapped[str | None] = mapped_column(String(2))
    region: Mapped[str | None] = mapped_column(String(20))
    service: Mapped[str | None] = mapped_column(String(100))
    gateway: Mapped[str | None] = mapped_column(String(100))  # how it was paid (payment crises)
    estimated_delivery_at: Mapped[datetime | None]
    source_updated_at: Mapped[datetime | None]
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    shop: Mapped[Shop] = relationship()
    incidents: Mapped[list[Incident]] = relationship(back_populates="order", order_by="Incident.id")
    items: Mapped[list[OrderItem]] = relationship(back_populates="order", order_by="OrderItem.id",
                                                  cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("shop_id", "platform_order_id"),
        Index("ix_orders_shop_number", "shop_id", "number"),  # the desk finds an order by its number
    )


class OrderItem(Base):
    """One line of an order: what analytics count by product and the desk filters by SKU."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    quantity: Mapped[int] = mapped_column(Integer, default=1)

    order: Mapped[Order] = relationship(back_populates="items")

    __table_args__ = (Index("ix_order_items_shop_sku", "shop_id", "sku"),)


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    kind: Mapped[Kind] = mapped_column(words(Kind, 40))
    responsibility: Mapped[Responsibility] = mapped_column(words(Responsibility, 20))
    status: Mapped[IncidentStatus] = mapped_column(words(IncidentStatus, 20), default=IncidentStatus.OPEN)
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # When the order first went wrong (the missed deadline, the cancellation): delays count from here.
    late_since: Mapped[datetime | None]
    crisis_id: Mapped[int | None] = mapped_column(ForeignKey("crises.id", ondelete="SET NULL"), index=True)
    # The customer's side: the language written in (fixed at the first message), when Redress must look at
    # this incident's messages again (the clock reads only due rows), and what the customer said.
    locale: Mapped[str | None] = mapped_column(String(10))
    next_message_at: Mapped[datetime | None] = mapped_column(index=True)
    # An offer the customer chooses from: {"rule", "options": [...], "default_after_days", "deadline"}.
    offer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    offer_chosen: Mapped[int | None] = mapped_column(Integer)
    offer_chosen_at: Mapped[datetime | None]
    confirmed: Mapped[bool | None] = mapped_column(Boolean)
    confirmed_at: Mapped[datetime | None]
    # The answer promised to the customer's last reply, until the team gives it.
    reply_due_at: Mapped[datetime | None]

    order: Mapped[Order] = relationship(back_populates="incidents")
    compensations: Mapped[list[Compensation]] = relationship(
        back_populates="incident", order_by="Compensation.id"
    )
    messages: Mapped[list[Message]] = relationship(back_populates="incident", order_by="Message.id")
    notes: Mapped[list[IncidentNote]] = relationship(back_populates="incident", order_by="IncidentNote.id",
                                                     cascade="all, delete-orphan")
    crisis: Mapped[Crisis | None] = relationship(back_populates="incidents")

    __table_args__ = (
        # One open incident per order and kind, enforced by the database itself.
        Index(
            "uq_incidents_open_order_kind", "order_id", "kind", unique=True,
            sqlite_where=text(_OPEN_SQL), postgresql_where=text(_OPEN_SQL),
        ),
        Index("ix_incidents_order_id", "order_id"),
        # Crisis detection counts every shop's incidents of the last weeks by day.
        Index("ix_incidents_opened_at", "opened_at"),
        # The desk pages a shop's incidents newest first, by id.
        Index("ix_incidents_shop_id_id", "shop_id", "id"),
        # A shop's incidents of a range of days: the desk's date filter and every analytics figure.
        Index("ix_incidents_shop_id_opened_at", "shop_id", "opened_at"),
    )


_UNRESOLVED_SQL = f"status != '{CrisisStatus.RESOLVED.value}'"


class Crisis(Base):
    """One cause hitting many of a shop's customers at once: what they share, how far above its usual level
    (observed against expected, and the method that judged it), its incidents and its updates."""

    __tablename__ = "crises"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    cause_type: Mapped[CauseType] = mapped_column(words(CauseType, 20))
    cause: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"carrier", "country", "region"}, {"sku"}, …
    cause_key: Mapped[str] = mapped_column(String(300))  # the cause in one string: one open crisis per cause
    status: Mapped[CrisisStatus] = mapped_column(words(CrisisStatus, 20), default=CrisisStatus.INVESTIGATING)
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    observed: Mapped[int] = mapped_column(Integer, default=0)
    expected: Mapped[float] = mapped_column(Float, default=0.0)
    method: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str | None] = mapped_column(Text)
    updates: Mapped[list[Any]] = mapped_column(default=list)  # [{"at", "status", "text", "sent_to"}]

    incidents: Mapped[list[Incident]] = relationship(back_populates="crisis", order_by="Incident.id")

    __table_args__ = (
        Index("uq_crises_open_cause", "shop_id", "cause_key", unique=True,
              sqlite_where=text(_UNRESOLVED_SQL), postgresql_where=text(_UNRESOLVED_SQL)),
    )


class IncidentNote(Base):
    """The team's own words on an incident, never shown to the customer."""

    __tablename__ = "incident_notes"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(String(320))  # who wrote it: a signed-in address, or "API"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="notes")


class Compensation(Base):
    __tablename__ = "compensations"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    action: Mapped[CompensationAction] = mapped_column(words(CompensationAction, 30))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    currency: Mapped[str | None] = mapped_column(String(3))
    state: Mapped[CompensationState] = mapped_column(words(CompensationState, 20),
                                                     default=CompensationState.PLANNED)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    platform_ref: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[str | None] = mapped_column(Text)
    value: Mapped[Decimal | None] = mapped_column(Money)  # what it costs the shop (caps, budgets)
    valid_days: Mapped[int | None] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(String(40))  # a coupon's code
    rule: Mapped[str | None] = mapped_column(String(200))
    notes: Mapped[list[Any]] = mapped_column(default=list)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A coupon's end of validity, fixed when it is first issued (valid_days from then, not from planning).
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    incident: Mapped[Incident] = relationship(back_populates="compensations")


class Message(Base):
    """One message to the customer or the team, or the customer's own words. Its row is committed before it
    is handed to the transport: one per incident × purpose × sequence (and one per `key`, which names
    messages about no single incident too, like the team's daily digest), so nothing is sent twice."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    audience: Mapped[Audience] = mapped_column(words(Audience, 20))
    purpose: Mapped[Purpose] = mapped_column(words(Purpose, 20))
    sequence: Mapped[int] = mapped_column(Integer, default=1)
    channel: Mapped[Channel] = mapped_column(words(Channel, 20))
    to_address: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str | None] = mapped_column(String(10))
    subject: Mapped[str | None] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    # What the message told: the compensations it announced, the promise it made, the facts it reported.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[MessageState] = mapped_column(words(MessageState, 20), default=MessageState.QUEUED)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    tried_at: Mapped[datetime | None]  # the last attempt: a queued message nobody tries for long lost its job
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    incident: Mapped[Incident | None] = relationship(back_populates="messages")

    __table_args__ = (
        UniqueConstraint("incident_id", "purpose", "sequence"),
        Index("ix_messages_incident_id", "incident_id"),
        # Only the few messages still waiting to go, looked for every minute.
        Index("ix_messages_queued", "created_at", sqlite_where=text("state = 'queued'"),
              postgresql_where=text("state = 'queued'")),
    )


class DataExport(Base):
    """What Redress holds about one customer, gathered for a data request, for the merchant to hand over."""

    __tablename__ = "data_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    request_ref: Mapped[str | None] = mapped_column(String(100))
    customer_email: Mapped[str | None] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
