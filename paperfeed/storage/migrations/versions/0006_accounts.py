"""Accounts: API tokens get a scope (read or write) and an optional expiry; account mail requests (sign-up
activation and password reset) wait in account_requests until the worker mails them.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        # Tokens made before scopes existed could do everything: they keep that ('write').
        batch.add_column(sa.Column("scope", sa.String(8), nullable=False, server_default="write"))
        batch.add_column(sa.Column("expires_at", TIMESTAMP))  # NULL: never expires
    op.create_index("api_tokens_user", "api_tokens", ["user_id"])
    op.create_table(
        "account_requests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),  # signup | reset
        # As typed, normalised; whether an account has it is decided by the worker, so that the web
        # answer and its timing are the same for any address.
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(96)),  # signup: the handle asked for
        sa.Column("password_hash", sa.Text),  # signup: argon2id of the chosen password
        sa.Column("next_path", sa.String(512)),  # signup: where to go once the account is active
        sa.Column("status", sa.String(12), nullable=False),  # requested | sent
        # Only the SHA-256 of the emailed token is kept: a leaked database activates or resets nothing.
        sa.Column("token_hash", sa.String(64), unique=True),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP),  # the last mail for this (kind, email): spaces resends out
        sa.Column("expires_at", TIMESTAMP),
        # One live request per kind and address: a new one replaces it (and kills the old link).
        sa.UniqueConstraint("kind", "email", name="account_requests_once"),
    )
    op.create_index("account_requests_due", "account_requests", ["status", "requested_at"])


def downgrade() -> None:
    op.drop_table("account_requests")
    op.drop_index("api_tokens_user", "api_tokens")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("expires_at")
        batch.drop_column("scope")
