"""KPI facts kept as they happen

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('kpi_job_facts',
    sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('done_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('complained', sa.Boolean(), nullable=False),
    sa.Column('covered', sa.Boolean(), nullable=False),
    sa.Column('next_request_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_kpi_job_facts_job_id_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_kpi_job_facts'))
    )
    op.create_index('ix_kpi_job_facts_period', 'kpi_job_facts',
                    ['done_at', 'station_id', 'technician_id', 'complained', 'covered', 'next_request_at', 'parts'],
                    unique=False)

    op.create_table('kpi_rating_facts',
    sa.Column('attempt_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('attempted_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['attempt_id'], ['callback_attempts.id'], name=op.f('fk_kpi_rating_facts_attempt_id_callback_attempts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_kpi_rating_facts'))
    )
    op.create_index('ix_kpi_rating_facts_period', 'kpi_rating_facts',
                    ['attempted_at', 'station_id', 'technician_id', 'rating'], unique=False)

    op.create_table('kpi_request_facts',
    sa.Column('request_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reported_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('regulator', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_kpi_request_facts_request_id_service_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_kpi_request_facts'))
    )
    op.create_index('ix_kpi_request_facts_period', 'kpi_request_facts',
                    ['reported_at', 'station_id', 'technician_id', 'regulator'], unique=False)

    op.create_table('kpi_deadline_facts',
    sa.Column('deadline_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('due_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['deadline_id'], ['sla_deadlines.id'], name=op.f('fk_kpi_deadline_facts_deadline_id_sla_deadlines'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('deadline_id', name=op.f('pk_kpi_deadline_facts'))
    )
    op.create_index('ix_kpi_deadline_facts_period', 'kpi_deadline_facts',
                    ['due_at', 'kind', 'station_id', 'technician_id', 'met'], unique=False)

    # The facts of what is already there are derived by 0017, which gave these tables their present shape.


def downgrade() -> None:
    for table in ('kpi_deadline_facts', 'kpi_request_facts', 'kpi_rating_facts', 'kpi_job_facts'):
        op.drop_table(table)
