"""register to closure: feedback, closed, investigation

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


# (column, the table it refers to) added to service_requests, each with a foreign key.
_REFERENCES = (('follows_request_id', 'service_requests'), ('feedback_by_user_id', 'users'),
               ('closed_by_user_id', 'users'))


def _add_reference(column: str, target: str) -> None:
    name = op.f(f'fk_service_requests_{column}_{target}')
    if op.get_bind().dialect.name == 'sqlite':
        # An inline REFERENCES, which SQLite's ADD COLUMN accepts. Batch mode would copy the table and drop the old
        # one, and with foreign keys on, that drop deletes every deadline, communication and callback (ON DELETE
        # CASCADE) or fails on the jobs referring to it.
        op.execute(f'ALTER TABLE service_requests ADD COLUMN {column} INTEGER CONSTRAINT {name} '
                   f'REFERENCES {target} (id)')
    else:
        op.add_column('service_requests', sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(name, 'service_requests', target, [column], ['id'])


def upgrade() -> None:
    for column, target in _REFERENCES:
        _add_reference(column, target)
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feedback_given_at', backend.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('feedback_method', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('feedback_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('closed_at', backend.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closing_summary', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_service_requests_follows_request_id'), ['follows_request_id'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_service_requests_closed_at'), ['closed_at'], unique=False)

    op.create_table('investigations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_request_id', sa.Integer(), nullable=False),
    sa.Column('root_cause', sa.String(length=40), nullable=False),
    sa.Column('root_cause_text', sa.Text(), nullable=False),
    sa.Column('countermeasure', sa.Text(), nullable=False),
    sa.Column('responsible_kind', sa.String(length=20), nullable=False),
    sa.Column('responsible_department', sa.String(length=120), nullable=True),
    sa.Column('responsible_supplier', sa.String(length=120), nullable=True),
    sa.Column('responsible_user_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("responsible_kind IN ('department', 'supplier', 'customer', 'third_party', 'employee')",
                       name=op.f('ck_investigations_known_responsible_kind')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_investigations_decided_by_id_users')),
    sa.ForeignKeyConstraint(['responsible_user_id'], ['users.id'],
                            name=op.f('fk_investigations_responsible_user_id_users')),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_requests.id'],
                            name=op.f('fk_investigations_service_request_id_service_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_investigations')),
    sa.UniqueConstraint('service_request_id', name=op.f('uq_investigations_service_request_id'))
    )
    with op.batch_alter_table('investigations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_investigations_root_cause'), ['root_cause'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('investigations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_investigations_root_cause'))
    op.drop_table('investigations')

    # On SQLite this copies the table (a column in a foreign key cannot be dropped in place): run it with foreign
    # keys off (PRAGMA foreign_keys=OFF), or the copy's DROP TABLE deletes the rows referring to the requests.
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_requests_closed_at'))
        batch_op.drop_index(batch_op.f('ix_service_requests_follows_request_id'))
        if op.get_bind().dialect.name != 'sqlite':  # SQLite's inline references are unnamed; the copy drops them
            for column, target in _REFERENCES:
                batch_op.drop_constraint(batch_op.f(f'fk_service_requests_{column}_{target}'), type_='foreignkey')
        for column in ('closing_summary', 'closed_at', 'feedback_text', 'feedback_method', 'feedback_given_at',
                       *(column for column, _target in _REFERENCES)):
            batch_op.drop_column(column)
