"""ServiceNow Source-to-Pay: auth, staging tables written, source tables read, pushes."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from ml_connector.connections.base import ConnectionBase, Model, RateLimit, SecretRef


class ServiceNowAuth(Model):
    """OAuth client credentials, falling back to basic auth where the grant is disabled."""

    kind: Literal["servicenow"]
    client_id: str | None = None
    client_secret: SecretRef | None = None
    username: str | None = None
    password: SecretRef | None = None
    grant: Literal["client_credentials", "password", "basic"] = Field(
        default="client_credentials",
        description="OAuth grant; password brings a refresh token; basic skips OAuth",
    )

    @model_validator(mode="after")
    def _one_way_in(self) -> ServiceNowAuth:
        oauth = self.client_id is not None and self.client_secret is not None
        basic = self.username is not None and self.password is not None
        if not (oauth or basic):
            raise ValueError("give client_id + client_secret, or username + password, or both")
        if self.grant == "password" and not (oauth and basic):
            raise ValueError("grant 'password' needs client_id, client_secret, username, password")
        return self


class StagingTable(Model):
    """Where one canonical entity lands in ServiceNow: an Import Set staging table."""

    staging: str
    target: str
    coalesce: str = Field(description="staging column the transform map coalesces on")
    target_key: str = Field(description="the target table's column that column lands in")


def default_staging_tables() -> dict[str, StagingTable]:
    """The Source-to-Pay staging tables the documentation names; override per instance."""
    return {
        "vendor": StagingTable(
            staging="sn_fcms_intg_imp_supplier", target="core_company",
            coalesce="u_vendor_number", target_key="u_vendor_number",
        ),
        "gl_account": StagingTable(
            staging="sn_fcms_intg_gl_account_stage", target="sn_fin_gl_account",
            coalesce="u_account_number", target_key="account_number",
        ),
        "cost_center": StagingTable(
            staging="sn_fcms_intg_imp_cost_center", target="cmn_cost_center",
            coalesce="u_code", target_key="code",
        ),
        # No item staging table is documented: an admin creates this one and its transform
        # map into the product catalog (see the README), or names their own here.
        "item": StagingTable(
            staging="u_mlc_imp_item", target="pc_product_cat",
            coalesce="u_item_number", target_key="u_erp_item_number",
        ),
        # ERP invoices go back only as what the ERP did with them (posted, paid), onto the
        # ServiceNow invoice they came from: the invoice payment detail import.
        "purchase_invoice": StagingTable(
            staging="sn_spend_intg_imp_invoice_payment_detail", target="sn_shop_invoice",
            coalesce="u_number", target_key="number",
        ),
    }  # fmt: skip


class DocumentTable(Model):
    """Where an ERP document lands in ServiceNow as a whole: its header and line staging
    tables, and the column the ERP number coalesces on. Column names are the instance's to
    choose (the docs give labels only): ``columns`` / ``line_columns`` rename the defaults."""

    staging: str
    line_staging: str | None = Field(default=None, description="none: the document has no lines")
    target: str = Field(description="operational table the transform map fills")
    target_key: str = Field(description="the target column holding what coalesce holds")
    coalesce: str = Field(description="staging column the transform map coalesces on")
    columns: dict[str, str] = Field(
        default_factory=dict, description="default staging column -> this instance's column"
    )
    line_columns: dict[str, str] = Field(
        default_factory=dict, description="default line staging column -> this instance's"
    )


def default_document_tables() -> dict[str, DocumentTable]:
    """The Source-to-Pay integration staging tables for ERP documents (apis.md)."""
    return {
        "purchase_order": DocumentTable(
            staging="sn_fcms_intg_imp_order", line_staging="sn_fcms_intg_imp_order_line",
            target="sn_shop_purchase_order", target_key="u_erp_number", coalesce="u_po_number",
        ),
        "purchase_invoice": DocumentTable(
            staging="sn_spend_intg_imp_invoice", line_staging="sn_spend_intg_imp_invoice_line",
            target="sn_shop_invoice", target_key="u_erp_number", coalesce="u_erp_number",
        ),
        # A payment lands on the invoice it pays, found by that invoice's ServiceNow number.
        "payment": DocumentTable(
            staging="sn_spend_intg_imp_invoice_payment_detail", target="sn_shop_invoice",
            target_key="payment_reference", coalesce="u_number",
        ),
    }  # fmt: skip


class SourceTable(Model):
    """Where ServiceNow keeps one kind of document read as a source: header and line tables.

    Known tables (sn_shop_purchase_order, proc_po, sn_shop_invoice, sn_apo_invoice) bring their
    line table, parent reference and column names; other tables need them spelt out.
    """

    table: str
    line_table: str | None = Field(default=None, description="default: the known table's")
    line_parent: str | None = Field(
        default=None, description="the line table's reference to its header"
    )
    query: str | None = Field(
        default=None,
        description="encoded query ANDed to every read; default: approved invoices only",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="canonical header field -> column or dot-walked path, over the defaults",
    )
    line_columns: dict[str, str] = Field(
        default_factory=dict, description="canonical line field -> column, over the defaults"
    )


# Only approved orders and AP invoices may reach the books; an override that names another
# table keeps this filter unless it says otherwise (query: "" reads every document).
_DEFAULT_SOURCE_QUERIES = {
    "purchase_order": "approval=approved",
    "purchase_invoice": "approval=approved",
}


def default_source_tables() -> dict[str, SourceTable]:
    return {
        "purchase_order": SourceTable(
            table="sn_shop_purchase_order", query=_DEFAULT_SOURCE_QUERIES["purchase_order"]
        ),
        "purchase_invoice": SourceTable(
            table="sn_shop_invoice", query=_DEFAULT_SOURCE_QUERIES["purchase_invoice"]
        ),
    }


class ServiceNowPush(Model):
    """An admin's Business Rule + Outbound REST Message posting changes to the connector:
    an optional accelerator beside polling, authenticated by a shared-secret header."""

    header: str = Field(default="X-MLC-Push-Secret", description="header carrying the secret")
    secret: SecretRef


class ServiceNowConnection(ConnectionBase):
    default_rate_limit: ClassVar[RateLimit] = RateLimit(concurrency=8)

    system: Literal["servicenow"]
    instance_url: str = Field(description="https://<instance>.service-now.com")
    auth: ServiceNowAuth
    tables: dict[str, StagingTable] = Field(
        default_factory=default_staging_tables,
        description="per entity; entries given here replace the defaults of those entities only",
    )
    document_tables: dict[str, DocumentTable] = Field(
        default_factory=default_document_tables,
        description="ERP documents written whole (orders, invoices with lines, payments), per "
        "entity; entries given here replace the defaults of those entities only",
    )
    push: ServiceNowPush | None = Field(
        default=None, description="accept Business Rule pushes at the webhook receiver"
    )
    source_tables: dict[str, SourceTable] = Field(
        default_factory=default_source_tables,
        description="documents read when this connection is a flow's source, per entity",
    )
    page_size: int = Field(default=1000, ge=1, le=10000)
    insert_multiple_rows: int = Field(
        default=100, ge=1, le=10000,
        description="staging rows per Import Set insertMultiple request when the sink writes "
        "a batch of records",
    )  # fmt: skip

    @field_validator("tables", mode="after")
    @classmethod
    def _over_defaults(cls, value: dict[str, StagingTable]) -> dict[str, StagingTable]:
        return {**default_staging_tables(), **value}

    @field_validator("document_tables", mode="after")
    @classmethod
    def _documents_over_defaults(cls, value: dict[str, DocumentTable]) -> dict[str, DocumentTable]:
        return {**default_document_tables(), **value}

    @field_validator("source_tables", mode="after")
    @classmethod
    def _sources_over_defaults(cls, value: dict[str, SourceTable]) -> dict[str, SourceTable]:
        merged = {**default_source_tables(), **value}
        return {
            entity: t if t.query is not None else
            t.model_copy(update={"query": _DEFAULT_SOURCE_QUERIES.get(entity, "")})
            for entity, t in merged.items()
        }  # fmt: skip

    @property
    def notifies(self) -> bool:
        return self.push is not None

    @property
    def url(self) -> str:
        return self.instance_url
