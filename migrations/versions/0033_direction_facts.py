"""the report facts keep each flow's direction

A report by direction (North-South, South-South, triangular, multilateral) derived the
direction flow by flow from the transactions: 89 s over 5,000,000 flows on PostgreSQL. The
facts now keep it per row (a row's flows share their project, provider, source, own recipient
and DAC membership period: the facts' periods are cut at the DAC membership dates too).

The direction also follows what is not a flow: the project's direction set by hand, its IATI
collaboration type, its funding partners and its recipients; the provider organisation's kind,
country and identifiers (and those of the organisations named as funding partners); the
funding source's kind; whether an organisation or a source is deleted. Triggers mark the projects whose direction may have changed:
directly for a project or its recipients (the project is known), and through
``report_dirty_inputs`` for an organisation or a funding source, which the next refresh
turns into marks of the projects concerned in one pass.

The facts are emptied here and rebuilt by the next commit or report (their signature changes).

Revision ID: 0033_direction_facts
Revises: 0032_note_indexes
Create Date: 2026-12-21 10:00:00
"""

from alembic import op
import sqlalchemy as sa


revision = "0033_direction_facts"
down_revision = "0032_note_indexes"
branch_labels = None
depends_on = None

FACT_TABLES = ("report_flow_facts", "report_project_facts", "report_fx_facts", "report_fx_project_facts")
PROJECT_COLUMNS = ("direction_override", "collaboration_type", "funding_partners")
ORG_COLUMNS = ("kind", "country_iso3", "iati_ref", "ref", "deleted_at")  # deleted: no longer there
SOURCE_COLUMNS = ("kind", "deleted_at")
TRIGGERS = {
    "projects": ("report_mark_project_direction",),
    "project_recipients": (
        "report_mark_recipients_insert",
        "report_mark_recipients_delete",
        "report_mark_recipients_update",
    ),
    "organisations": ("report_mark_org_insert", "report_mark_org_update", "report_mark_org_delete"),
    "funding_sources": ("report_mark_source_kind",),
}

MARK_SQLITE = (
    "INSERT INTO report_dirty (project_id, generation) VALUES ({row}.project_id, 1) "
    "ON CONFLICT (project_id) DO UPDATE SET generation = generation + 1;"
)
# A project without facts has no direction to change (a new project's flows are found anyway).
HAS_FACTS_SQLITE = "EXISTS (SELECT 1 FROM report_flow_facts WHERE project_id = {row}.project_id)"


def _changed(columns, old="OLD", new="NEW", distinct="IS NOT") -> str:
    return " OR ".join(f"{old}.{c} {distinct} {new}.{c}" for c in columns)


def _inputs(row: str, with_org: bool, sqlite: bool) -> str:
    """The statement noting an organisation's identifiers (and its id) in report_dirty_inputs."""
    parts = [f"SELECT 'ref', {row}.ref"]
    parts.append(f"SELECT 'ref', {row}.iati_ref WHERE {row}.iati_ref IS NOT NULL")
    if with_org:
        parts.append(f"SELECT 'org', CAST({row}.id AS TEXT)")
    verb, tail = ("INSERT OR IGNORE INTO", ";") if sqlite else ("INSERT INTO", " ON CONFLICT DO NOTHING;")
    return f"{verb} report_dirty_inputs (kind, key) " + " UNION ALL ".join(parts) + tail


def _sqlite_triggers():
    op.execute(
        f"CREATE TRIGGER report_mark_project_direction AFTER UPDATE OF {', '.join(PROJECT_COLUMNS)} ON projects "
        f"WHEN {_changed(PROJECT_COLUMNS)} BEGIN "
        "INSERT INTO report_dirty (project_id, generation) VALUES (NEW.id, 1) "
        "ON CONFLICT (project_id) DO UPDATE SET generation = generation + 1; END"
    )
    for event, row in (("insert", "NEW"), ("delete", "OLD")):
        op.execute(
            f"CREATE TRIGGER report_mark_recipients_{event} AFTER {event.upper()} ON project_recipients "
            f"WHEN {HAS_FACTS_SQLITE.format(row=row)} BEGIN {MARK_SQLITE.format(row=row)} END"
        )
    op.execute(
        "CREATE TRIGGER report_mark_recipients_update AFTER UPDATE ON project_recipients BEGIN "
        + MARK_SQLITE.format(row="OLD")
        + " "
        + MARK_SQLITE.format(row="NEW")
        + " END"
    )
    op.execute(
        "CREATE TRIGGER report_mark_org_insert AFTER INSERT ON organisations BEGIN "
        + _inputs("NEW", with_org=False, sqlite=True)
        + " END"
    )
    op.execute(
        f"CREATE TRIGGER report_mark_org_update AFTER UPDATE OF {', '.join(ORG_COLUMNS)} ON organisations "
        f"WHEN {_changed(ORG_COLUMNS)} BEGIN "
        + _inputs("OLD", with_org=True, sqlite=True)
        + " "
        + _inputs("NEW", with_org=True, sqlite=True)
        + " END"
    )
    op.execute(
        "CREATE TRIGGER report_mark_org_delete AFTER DELETE ON organisations BEGIN "
        + _inputs("OLD", with_org=True, sqlite=True)
        + " END"
    )
    op.execute(
        f"CREATE TRIGGER report_mark_source_kind AFTER UPDATE OF {', '.join(SOURCE_COLUMNS)} ON funding_sources "
        f"WHEN {_changed(SOURCE_COLUMNS)} BEGIN "
        "INSERT OR IGNORE INTO report_dirty_inputs (kind, key) VALUES ('source', CAST(NEW.id AS TEXT)); END"
    )


def _pg_function(name: str, body: str) -> None:
    op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN {body} RETURN NULL; END $$")


def _pg_triggers():
    _pg_function(
        "report_mark_project_direction",
        "INSERT INTO report_dirty (project_id, generation) VALUES (NEW.id, 1) "
        "ON CONFLICT (project_id) DO UPDATE SET generation = report_dirty.generation + 1;",
    )
    op.execute(
        f"CREATE TRIGGER report_mark_project_direction AFTER UPDATE OF {', '.join(PROJECT_COLUMNS)} ON projects "
        f"FOR EACH ROW WHEN ({_changed(PROJECT_COLUMNS, distinct='IS DISTINCT FROM')}) "
        "EXECUTE FUNCTION report_mark_project_direction()"
    )
    mark = (
        "INSERT INTO report_dirty (project_id, generation) SELECT DISTINCT r.project_id, 1 FROM {rows} r "
        "WHERE EXISTS (SELECT 1 FROM report_flow_facts f WHERE f.project_id = r.project_id) "
        "ON CONFLICT (project_id) DO UPDATE SET generation = report_dirty.generation + 1;"
    )
    for event, rows, clause in (
        ("insert", "new_rows", "NEW TABLE AS new_rows"),
        ("delete", "old_rows", "OLD TABLE AS old_rows"),
        (
            "update",
            "(SELECT project_id FROM old_rows UNION SELECT project_id FROM new_rows)",
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ),
    ):
        _pg_function(f"report_mark_recipients_{event}", mark.format(rows=rows))
        op.execute(
            f"CREATE TRIGGER report_mark_recipients_{event} AFTER {event.upper()} ON project_recipients "
            f"REFERENCING {clause} FOR EACH STATEMENT EXECUTE FUNCTION report_mark_recipients_{event}()"
        )
    _pg_function("report_mark_org_insert", _inputs("NEW", with_org=False, sqlite=False))
    op.execute(
        "CREATE TRIGGER report_mark_org_insert AFTER INSERT ON organisations "
        "FOR EACH ROW EXECUTE FUNCTION report_mark_org_insert()"
    )
    _pg_function(
        "report_mark_org_update",
        _inputs("OLD", with_org=True, sqlite=False) + " " + _inputs("NEW", with_org=True, sqlite=False),
    )
    op.execute(
        f"CREATE TRIGGER report_mark_org_update AFTER UPDATE OF {', '.join(ORG_COLUMNS)} ON organisations "
        f"FOR EACH ROW WHEN ({_changed(ORG_COLUMNS, distinct='IS DISTINCT FROM')}) "
        "EXECUTE FUNCTION report_mark_org_update()"
    )
    _pg_function("report_mark_org_delete", _inputs("OLD", with_org=True, sqlite=False))
    op.execute(
        "CREATE TRIGGER report_mark_org_delete AFTER DELETE ON organisations "
        "FOR EACH ROW EXECUTE FUNCTION report_mark_org_delete()"
    )
    _pg_function(
        "report_mark_source_kind",
        "INSERT INTO report_dirty_inputs (kind, key) VALUES ('source', NEW.id::text) ON CONFLICT DO NOTHING;",
    )
    op.execute(
        f"CREATE TRIGGER report_mark_source_kind AFTER UPDATE OF {', '.join(SOURCE_COLUMNS)} ON funding_sources "
        f"FOR EACH ROW WHEN ({_changed(SOURCE_COLUMNS, distinct='IS DISTINCT FROM')}) "
        "EXECUTE FUNCTION report_mark_source_kind()"
    )


def upgrade():
    # Emptied: the facts are rebuilt with their directions by the next commit or report.
    for table in FACT_TABLES:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM report_state WHERE key = 'flow_facts' OR key LIKE 'fx\\_%' ESCAPE '\\'")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in ("report_flow_facts", "report_fx_facts"):
        # SQLite adds a NOT NULL column only with a default: the (empty) table is rebuilt instead
        with op.batch_alter_table(table, schema=None, recreate="always" if sqlite else "auto") as batch_op:
            batch_op.add_column(sa.Column("direction", sa.String(length=16), nullable=False))
    op.create_table(
        "report_dirty_inputs",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_report_dirty_inputs")),
    )
    if sqlite:
        _sqlite_triggers()
    else:
        _pg_triggers()


def downgrade():
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table, names in TRIGGERS.items():
        for name in names:
            if sqlite:
                op.execute(f"DROP TRIGGER IF EXISTS {name}")
            else:
                op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
                op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    op.drop_table("report_dirty_inputs")
    for table in FACT_TABLES:
        op.execute(f"DELETE FROM {table}")
    op.execute("DELETE FROM report_state WHERE key = 'flow_facts' OR key LIKE 'fx\\_%' ESCAPE '\\'")
    for table in ("report_flow_facts", "report_fx_facts"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("direction")
