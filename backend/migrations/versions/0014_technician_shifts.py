"""technician shift windows and day routes

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Working hours in the home station's time zone (PLN-2); every existing technician gets 08:00-18:00.
    with op.batch_alter_table('technicians', schema=None) as batch_op:
        batch_op.add_column(sa.Column('shift_start', sa.Time(), server_default='08:00:00', nullable=False))
        batch_op.add_column(sa.Column('shift_end', sa.Time(), server_default='18:00:00', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('technicians', schema=None) as batch_op:
        batch_op.drop_column('shift_end')
        batch_op.drop_column('shift_start')
