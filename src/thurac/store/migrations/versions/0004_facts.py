"""Per-event facts for `thurac replay`: the structured authentication results and each
check's symbols with their scale factors, so a message can be re-scored under another
configuration without DNS and without its body (events before this have none: replay
falls back to their rendered symbols and says so).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("facts", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("facts")
