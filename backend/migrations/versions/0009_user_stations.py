"""station scope of office users

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 19:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
