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
    op.create_table('user_stations',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_user_stations_station_id_stations')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_user_stations_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'station_id', name=op.f('pk_user_stations'))
    )
    with op.batch_alter_table('user_stations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_stations_station_id'), ['station_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('user_stations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_stations_station_id'))

    op.drop_table('user_stations')
