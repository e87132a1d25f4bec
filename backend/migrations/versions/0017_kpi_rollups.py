"""KPI facts without foreign keys, their rollups per month, station and lead technician, old parts by group

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 02:10:00.000000
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

_KEY = ('month', 'station_id', 'technician_id')


def _rollup(name: str, *columns: sa.Column, key: tuple[str, ...] = _KEY) -> None:
    op.create_table(name,
    sa.Column('month', sa.String(length=7), nullable=False),
    *(c for c in columns if c.name in key),
    sa.Column('station_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('technician_id', sa.Integer(), autoincrement=False, nullable=False),
    *(c for c in columns if c.name not in key),
    sa.PrimaryKeyConstraint(*key, name=op.f(f'pk_{name}'))
    )


def _measures(*names: str) -> list[sa.Column]:
    return [sa.Column(n, sa.Integer(), nullable=False) for n in names]


def _facts() -> None:
    # Reshaped, so emptied: the rebuild below derives them all again.
    for table in ('kpi_job_facts', 'kpi_rating_facts', 'kpi_request_facts', 'kpi_deadline_facts'):
        op.drop_table(table)
    op.create_table('kpi_job_facts',
    sa.Column('job_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('done_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('complained', sa.Boolean(), nullable=False),
    sa.Column('covered', sa.Boolean(), nullable=False),
    sa.Column('next_request_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('parts', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('job_id', name=op.f('pk_kpi_job_facts'))
    )
    op.create_index('ix_kpi_job_facts_period', 'kpi_job_facts',
                    ['done_at', 'station_id', 'technician_id', 'complained', 'covered', 'next_request_at', 'parts'],
                    unique=False)
    op.create_table('kpi_rating_facts',
    sa.Column('attempt_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('attempted_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('attempt_id', name=op.f('pk_kpi_rating_facts'))
    )
    op.create_index('ix_kpi_rating_facts_period', 'kpi_rating_facts',
                    ['attempted_at', 'station_id', 'technician_id', 'rating'], unique=False)
    op.create_index(op.f('ix_kpi_rating_facts_job_id'), 'kpi_rating_facts', ['job_id'], unique=False)
    op.create_table('kpi_request_facts',
    sa.Column('request_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('reported_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('regulator', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('request_id', name=op.f('pk_kpi_request_facts'))
    )
    op.create_index('ix_kpi_request_facts_period', 'kpi_request_facts',
                    ['reported_at', 'station_id', 'technician_id', 'regulator'], unique=False)
    op.create_table('kpi_deadline_facts',
    sa.Column('deadline_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('due_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=True),
    sa.Column('met', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('deadline_id', name=op.f('pk_kpi_deadline_facts'))
    )
    op.create_index('ix_kpi_deadline_facts_period', 'kpi_deadline_facts',
                    ['due_at', 'kind', 'station_id', 'technician_id', 'met'], unique=False)
    op.create_index(op.f('ix_kpi_deadline_facts_request_id'), 'kpi_deadline_facts', ['request_id'], unique=False)


def upgrade() -> None:
    _facts()
    _rollup('kpi_job_rollups', *_measures('jobs', 'complained', 'covered', 'revisited', 'parts'))
    _rollup('kpi_rating_rollups', *_measures('answered', 'satisfied', 'rated', 'rating_sum'))
    _rollup('kpi_request_rollups', *_measures('requests', 'regulator'))
    _rollup('kpi_deadline_rollups', sa.Column('kind', sa.String(length=20), nullable=False),
            *_measures('due', 'met'), key=('month', 'kind', 'station_id', 'technician_id'))
    op.create_table('kpi_rollup_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('first_time_fix_days', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kpi_rollup_state'))
    )
    op.create_index('ix_old_part_obligations_status_station_due', 'old_part_obligations',
                    ['status', 'station_id', 'due_at'], unique=False)
    op.create_index('ix_old_part_obligations_status_technician_due', 'old_part_obligations',
                    ['status', 'technician_id', 'due_at'], unique=False)
    # The facts of what is already there and their rollups, revisits counted within the default first-time-fix
    # window: a deployment configured otherwise runs `onsite kpi-facts rebuild` (until then first-time fix is read
    # from the facts). The same rebuild as that command's.
    from backend.kpis.facts import rebuild
    rebuild(op.get_bind())


# (fact table, its key, the table that key refers to), as 0012 made them
_FACT_KEYS = (('kpi_job_facts', 'job_id', 'jobs'), ('kpi_rating_facts', 'attempt_id', 'callback_attempts'),
              ('kpi_request_facts', 'request_id', 'service_requests'),
              ('kpi_deadline_facts', 'deadline_id', 'sla_deadlines'))


def downgrade() -> None:
    op.drop_index('ix_old_part_obligations_status_technician_due', table_name='old_part_obligations')
    op.drop_index('ix_old_part_obligations_status_station_due', table_name='old_part_obligations')
    for table in ('kpi_rollup_state', 'kpi_deadline_rollups', 'kpi_request_rollups', 'kpi_rating_rollups',
                  'kpi_job_rollups'):
        op.drop_table(table)
    # Back to 0012's shape with the facts kept (they are right in it): the source columns go, the foreign keys come
    # back, after the facts of rows already gone (which 0012's cascade would have removed).
    op.drop_index(op.f('ix_kpi_deadline_facts_request_id'), table_name='kpi_deadline_facts')
    op.drop_index(op.f('ix_kpi_rating_facts_job_id'), table_name='kpi_rating_facts')
    for table, key, refers_to in _FACT_KEYS:
        op.execute(sa.text(f'DELETE FROM {table} WHERE {key} NOT IN (SELECT id FROM {refers_to})'))
        with op.batch_alter_table(table) as batch:
            if table == 'kpi_rating_facts':
                batch.drop_column('job_id')
            if table == 'kpi_deadline_facts':
                batch.drop_column('request_id')
            batch.create_foreign_key(op.f(f'fk_{table}_{key}_{refers_to}'), refers_to, [key], ['id'],
                                     ondelete='CASCADE')
