"""KPI facts without foreign keys, their rollups per month, station and lead technician, old parts by group

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30 02:10:00.000000
"""
from alembic import op
import sqlalchemy as sa


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


# (fact table, its key, the table that key refers to), as 0012 made them
_FACT_KEYS = (('kpi_job_facts', 'job_id', 'jobs'), ('kpi_rating_facts', 'attempt_id', 'callback_attempts'),
              ('kpi_request_facts', 'request_id', 'service_requests'),
              ('kpi_deadline_facts', 'deadline_id', 'sla_deadlines'))
# The source column a fact table gains, where its key is not the source itself
_SOURCES = {'kpi_rating_facts': 'job_id', 'kpi_deadline_facts': 'request_id'}


def _facts() -> None:
    # Emptied (the rebuild below derives them all again), then 0012's foreign keys off and the source columns on.
    for table, key, refers_to in _FACT_KEYS:
        op.execute(sa.text(f'DELETE FROM {table}'))
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f'fk_{table}_{key}_{refers_to}'), type_='foreignkey')
            if table in _SOURCES:
                batch.add_column(sa.Column(_SOURCES[table], sa.Integer(), nullable=False))
        if table in _SOURCES:
            op.create_index(op.f(f'ix_{table}_{_SOURCES[table]}'), table, [_SOURCES[table]], unique=False)


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


def downgrade() -> None:
    op.drop_index('ix_old_part_obligations_status_technician_due', table_name='old_part_obligations')
    op.drop_index('ix_old_part_obligations_status_station_due', table_name='old_part_obligations')
    for table in ('kpi_rollup_state', 'kpi_deadline_rollups', 'kpi_request_rollups', 'kpi_rating_rollups',
                  'kpi_job_rollups'):
        op.drop_table(table)
    # Back to 0012's shape with the facts kept (they are right in it): the source columns go, the foreign keys come
    # back, after the facts of rows already gone (which 0012's cascade would have removed).
    for table, key, refers_to in _FACT_KEYS:
        op.execute(sa.text(f'DELETE FROM {table} WHERE {key} NOT IN (SELECT id FROM {refers_to})'))
        if table in _SOURCES:
            op.drop_index(op.f(f'ix_{table}_{_SOURCES[table]}'), table_name=table)
        with op.batch_alter_table(table) as batch:
            if table in _SOURCES:
                batch.drop_column(_SOURCES[table])
            batch.create_foreign_key(op.f(f'fk_{table}_{key}_{refers_to}'), refers_to, [key], ['id'],
                                     ondelete='CASCADE')
