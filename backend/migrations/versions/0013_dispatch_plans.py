"""dispatch plans (batch assignment)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dispatch_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_by_user_id', sa.Integer(), nullable=False),
    sa.Column('planned_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('max_jobs_per_technician', sa.Integer(), nullable=False),
    sa.Column('travel_speed_kmh', sa.Float(), nullable=False),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('objective', sa.JSON(), nullable=False),
    sa.Column('solver', sa.JSON(), nullable=False),
    sa.Column('committed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('committed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['committed_by_user_id'], ['users.id'], name=op.f('fk_dispatch_plans_committed_by_user_id_users')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_dispatch_plans_created_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_plans'))
    )
    op.create_table('dispatch_plan_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('service_request_id', sa.Integer(), nullable=False),
    sa.Column('on_site_due_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('crew', sa.JSON(), nullable=False),
    sa.Column('distance_km', sa.Float(), nullable=True),
    sa.Column('eta', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deadline_met', sa.Boolean(), nullable=True),
    sa.Column('lateness_minutes', sa.Float(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('greedy_technician_ids', sa.JSON(), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=True),
    sa.Column('swap_reason', sa.String(length=1000), nullable=True),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_dispatch_plan_items_job_id_jobs')),
    sa.ForeignKeyConstraint(['plan_id'], ['dispatch_plans.id'], name=op.f('fk_dispatch_plan_items_plan_id_dispatch_plans'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_requests.id'], name=op.f('fk_dispatch_plan_items_service_request_id_service_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dispatch_plan_items')),
    sa.UniqueConstraint('plan_id', 'service_request_id', name='uq_dispatch_plan_items_request')
    )
    op.create_index(op.f('ix_dispatch_plan_items_plan_id'), 'dispatch_plan_items', ['plan_id'], unique=False)
    op.create_index(op.f('ix_dispatch_plan_items_service_request_id'), 'dispatch_plan_items', ['service_request_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_dispatch_plan_items_service_request_id'), table_name='dispatch_plan_items')
    op.drop_index(op.f('ix_dispatch_plan_items_plan_id'), table_name='dispatch_plan_items')
    op.drop_table('dispatch_plan_items')
    op.drop_table('dispatch_plans')
