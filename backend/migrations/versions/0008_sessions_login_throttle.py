"""sessions that can be ended, login throttling

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 19:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
