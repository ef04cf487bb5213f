"""admin

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_submission",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("form_submission", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_form_submission_nonce"), ["nonce"], unique=True)

    op.create_table(
        "sent_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=300), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sent_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sent_message_message_id"), ["message_id"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_sent_message_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "template_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=35), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organisation_id", "locale", "step", "version"),
    )
    with op.batch_alter_table("template_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_template_version_organisation_id"), ["organisation_id"], unique=False
        )

    op.create_table(
        "user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("session_nonce", sa.String(length=64), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_email"), ["email"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_user_organisation_id"), ["organisation_id"], unique=False
        )

    with op.batch_alter_table("worklist_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_to", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("resolution", sa.String(length=2000), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_worklist_item_assigned_to"), ["assigned_to"], unique=False
        )
        batch_op.create_foreign_key(
            "fk_worklist_item_assigned_to_user", "user", ["assigned_to"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("form_submission", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_form_submission_nonce"))
    op.drop_table("form_submission")
    with op.batch_alter_table("worklist_item", schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint("fk_worklist_item_assigned_to_user", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_worklist_item_assigned_to"))
        batch_op.drop_column("resolution")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("assigned_to")

    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_user_email"))

    op.drop_table("user")
    with op.batch_alter_table("template_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_template_version_organisation_id"))

    op.drop_table("template_version")
    with op.batch_alter_table("sent_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sent_message_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_sent_message_message_id"))

    op.drop_table("sent_message")
