"""service cost ledger and allocation

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-29 22:45:00.000000
"""
from alembic import op
import sqlalchemy as sa

import backend.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('service_expenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('incurred_on', sa.Date(), nullable=False),
    sa.Column('receipt_number', sa.String(length=60), nullable=True),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('raised_by_user_id', sa.Integer(), nullable=False),
    sa.Column('raised_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sa.String(length=1000), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('travel', 'lodging', 'allowance', 'transport', 'packaging')",
                       name=op.f('ck_service_expenses_known_kind')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_service_expenses_known_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_service_expenses_positive_amount')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_service_expenses_job_id_jobs')),
    sa.ForeignKeyConstraint(['technician_id'], ['technicians.id'],
                            name=op.f('fk_service_expenses_technician_id_technicians')),
    sa.ForeignKeyConstraint(['raised_by_user_id'], ['users.id'],
                            name=op.f('fk_service_expenses_raised_by_user_id_users')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'],
                            name=op.f('fk_service_expenses_decided_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_expenses'))
    )
    with op.batch_alter_table('service_expenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_expenses_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_expenses_technician_id'), ['technician_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_expenses_incurred_on'), ['incurred_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_service_expenses_status'), ['status'], unique=False)

    op.create_table('cost_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('service_request_id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=15), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('borne_by', sa.String(length=15), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=False),
    sa.Column('decided_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('expense', 'part', 'freight', 'compensation')",
                       name=op.f('ck_cost_allocations_known_source')),
    sa.CheckConstraint("borne_by IN ('service_branch', 'manufacturing', 'supplier', 'customer')",
                       name=op.f('ck_cost_allocations_known_borne_by')),
    sa.CheckConstraint("(borne_by = 'supplier') = (supplier IS NOT NULL)",
                       name=op.f('ck_cost_allocations_supplier_named_when_borne')),
    sa.ForeignKeyConstraint(['service_request_id'], ['service_requests.id'],
                            name=op.f('fk_cost_allocations_service_request_id_service_requests')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'],
                            name=op.f('fk_cost_allocations_decided_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cost_allocations')),
    sa.UniqueConstraint('service_request_id', 'source', 'source_id', name='uq_cost_allocations_line')
    )
    with op.batch_alter_table('cost_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cost_allocations_service_request_id'), ['service_request_id'],
                              unique=False)

    # A part's cost is its price when written off (CST-1); rows written off before this knew only today's price.
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit_price', sa.Numeric(precision=12, scale=2), nullable=True))
    op.execute("UPDATE write_offs SET unit_price = (SELECT parts.unit_price FROM parts "
               "WHERE parts.id = write_offs.part_id)")
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.alter_column('unit_price', existing_type=sa.Numeric(precision=12, scale=2), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.drop_column('unit_price')
    with op.batch_alter_table('cost_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cost_allocations_service_request_id'))
    op.drop_table('cost_allocations')
    with op.batch_alter_table('service_expenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_expenses_status'))
        batch_op.drop_index(batch_op.f('ix_service_expenses_incurred_on'))
        batch_op.drop_index(batch_op.f('ix_service_expenses_technician_id'))
        batch_op.drop_index(batch_op.f('ix_service_expenses_job_id'))
    op.drop_table('service_expenses')
