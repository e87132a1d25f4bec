"""dispatch plans (batch assignment)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
