"""service-quality callbacks

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 11:46:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dedupe_key', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('service_request_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('due_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_attempt_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts_made', sa.Integer(), nullable=False),
    sa.Column('completed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_callbacks_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_requests.id'], name=op.f('fk_callbacks_service_request_id_service_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callbacks')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_callbacks_dedupe_key'))
    )
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callbacks_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callbacks_service_request_id'), ['service_request_id'], unique=False)
        batch_op.create_index('ix_callbacks_status_next_attempt', ['status', 'next_attempt_at'], unique=False)

    op.create_table('callback_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('callback_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('attempted_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('agent_user_id', sa.Integer(), nullable=True),
    sa.Column('reached', sa.Boolean(), nullable=False),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('attitude', sa.Integer(), nullable=True),
    sa.Column('skill', sa.Integer(), nullable=True),
    sa.Column('arrival_time', sa.Integer(), nullable=True),
    sa.Column('promise_kept', sa.Integer(), nullable=True),
    sa.Column('comments', sa.Text(), nullable=True),
    sa.Column('complaint_request_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('arrival_time IS NULL OR arrival_time BETWEEN 1 AND 5', name=op.f('ck_callback_attempts_arrival_time_1_to_5')),
    sa.CheckConstraint('attitude IS NULL OR attitude BETWEEN 1 AND 5', name=op.f('ck_callback_attempts_attitude_1_to_5')),
    sa.CheckConstraint('promise_kept IS NULL OR promise_kept BETWEEN 1 AND 5', name=op.f('ck_callback_attempts_promise_kept_1_to_5')),
    sa.CheckConstraint('skill IS NULL OR skill BETWEEN 1 AND 5', name=op.f('ck_callback_attempts_skill_1_to_5')),
    sa.ForeignKeyConstraint(['agent_user_id'], ['users.id'], name=op.f('fk_callback_attempts_agent_user_id_users')),
    sa.ForeignKeyConstraint(['callback_id'], ['callbacks.id'], name=op.f('fk_callback_attempts_callback_id_callbacks'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['complaint_request_id'], ['service_requests.id'], name=op.f('fk_callback_attempts_complaint_request_id_service_requests')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_callback_attempts'))
    )
    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_callback_attempts_attempted_at'), ['attempted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_attempts_callback_id'), ['callback_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_callback_attempts_complaint_request_id'), ['complaint_request_id'], unique=False)

    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_since', backend.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('sla_deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_sla_deadlines_due_at', ['due_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('sla_deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_sla_deadlines_due_at')

    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_column('follow_up_since')

    with op.batch_alter_table('callback_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_callback_attempts_complaint_request_id'))
        batch_op.drop_index(batch_op.f('ix_callback_attempts_callback_id'))
        batch_op.drop_index(batch_op.f('ix_callback_attempts_attempted_at'))

    op.drop_table('callback_attempts')
    with op.batch_alter_table('callbacks', schema=None) as batch_op:
        batch_op.drop_index('ix_callbacks_status_next_attempt')
        batch_op.drop_index(batch_op.f('ix_callbacks_service_request_id'))
        batch_op.drop_index(batch_op.f('ix_callbacks_job_id'))
        batch_op.drop_index(batch_op.f('ix_callbacks_due_at'))

    op.drop_table('callbacks')
