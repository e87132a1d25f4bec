"""requisitions, old parts, write-offs, supplier claims, freight

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 11:45:00.000000
"""
from alembic import op
import sqlalchemy as sa
import backend.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('supplier_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('amount_claimed', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('amount_recovered', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('note', sa.String(length=1000), nullable=True),
    sa.Column('created_by_user_id', sa.Integer(), nullable=True),
    sa.Column('sent_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settled_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('settled_by_user_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('open', 'sent', 'accepted', 'rejected')", name=op.f('ck_supplier_claims_known_status')),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_supplier_claims_created_by_user_id_users')),
    sa.ForeignKeyConstraint(['settled_by_user_id'], ['users.id'], name=op.f('fk_supplier_claims_settled_by_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supplier_claims'))
    )
    with op.batch_alter_table('supplier_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supplier_claims_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_supplier_claims_supplier'), ['supplier'], unique=False)

    op.create_table('requisitions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_by_user_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sa.String(length=1000), nullable=True),
    sa.Column('issued_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('issued_by_user_id', sa.Integer(), nullable=True),
    sa.Column('source_location_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'issued')", name=op.f('ck_requisitions_known_status')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_requisitions_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['issued_by_user_id'], ['users.id'], name=op.f('fk_requisitions_issued_by_user_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_requisitions_job_id_jobs')),
    sa.ForeignKeyConstraint(['requested_by_user_id'], ['users.id'], name=op.f('fk_requisitions_requested_by_user_id_users')),
    sa.ForeignKeyConstraint(['source_location_id'], ['stock_locations.id'], name=op.f('fk_requisitions_source_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['technician_id'], ['technicians.id'], name=op.f('fk_requisitions_technician_id_technicians')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requisitions'))
    )
    with op.batch_alter_table('requisitions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_requisitions_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_requisitions_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_requisitions_technician_id'), ['technician_id'], unique=False)

    op.create_table('freight_charges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('handler_user_id', sa.Integer(), nullable=False),
    sa.Column('description', sa.String(length=1000), nullable=False),
    sa.Column('requisition_id', sa.Integer(), nullable=True),
    sa.Column('old_part_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('recorded_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by_user_id', sa.Integer(), nullable=True),
    sa.Column('reject_reason', sa.String(length=1000), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_freight_charges_known_status')),
    sa.CheckConstraint('amount > 0', name=op.f('ck_freight_charges_positive_amount')),
    sa.ForeignKeyConstraint(['decided_by_user_id'], ['users.id'], name=op.f('fk_freight_charges_decided_by_user_id_users')),
    sa.ForeignKeyConstraint(['handler_user_id'], ['users.id'], name=op.f('fk_freight_charges_handler_user_id_users')),
    sa.ForeignKeyConstraint(['requisition_id'], ['requisitions.id'], name=op.f('fk_freight_charges_requisition_id_requisitions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_freight_charges'))
    )
    with op.batch_alter_table('freight_charges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_freight_charges_requisition_id'), ['requisition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_freight_charges_status'), ['status'], unique=False)

    op.create_table('requisition_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('requisition_id', sa.Integer(), nullable=False),
    sa.Column('line_no', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=1000), nullable=False),
    sa.Column('issued_serials', sa.JSON(), nullable=False),
    sa.Column('returned_quantity', sa.Integer(), nullable=False),
    sa.Column('returned_serials', sa.JSON(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_requisition_lines_positive_quantity')),
    sa.CheckConstraint('returned_quantity >= 0 AND returned_quantity <= quantity', name=op.f('ck_requisition_lines_returned_within_issued')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_requisition_lines_part_id_parts')),
    sa.ForeignKeyConstraint(['requisition_id'], ['requisitions.id'], name=op.f('fk_requisition_lines_requisition_id_requisitions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_requisition_lines'))
    )
    with op.batch_alter_table('requisition_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_requisition_lines_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_requisition_lines_requisition_id'), ['requisition_id'], unique=False)

    op.create_table('part_installations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('report_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('new_serial', sa.String(length=80), nullable=True),
    sa.Column('old_serial', sa.String(length=80), nullable=True),
    sa.Column('covered_by_warranty', sa.Boolean(), nullable=False),
    sa.Column('requisition_line_id', sa.Integer(), nullable=True),
    sa.Column('installed_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('approved_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('removed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_part_installations_job_id_jobs')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_part_installations_part_id_parts')),
    sa.ForeignKeyConstraint(['report_id'], ['field_reports.id'], name=op.f('fk_part_installations_report_id_field_reports')),
    sa.ForeignKeyConstraint(['requisition_line_id'], ['requisition_lines.id'], name=op.f('fk_part_installations_requisition_line_id_requisition_lines')),
    sa.ForeignKeyConstraint(['technician_id'], ['technicians.id'], name=op.f('fk_part_installations_technician_id_technicians')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_part_installations'))
    )
    with op.batch_alter_table('part_installations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_part_installations_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_part_installations_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_part_installations_requisition_line_id'), ['requisition_line_id'], unique=False)

    op.create_table('old_part_obligations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('technician_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=True),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('due_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('marked_overdue_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('received_by_user_id', sa.Integer(), nullable=True),
    sa.Column('condition', sa.String(length=1000), nullable=True),
    sa.Column('excused_reason', sa.String(length=20), nullable=True),
    sa.Column('excuse_note', sa.String(length=1000), nullable=True),
    sa.Column('excused_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('excused_by_user_id', sa.Integer(), nullable=True),
    sa.Column('disposition', sa.String(length=20), nullable=True),
    sa.Column('disposed_at', backend.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disposed_by_user_id', sa.Integer(), nullable=True),
    sa.Column('supplier_claim_id', sa.Integer(), nullable=True),
    sa.Column('repaired_into_location_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("disposition IS NULL OR disposition IN ('supplier_claim', 'repaired', 'scrapped')", name=op.f('ck_old_part_obligations_known_disposition')),
    sa.CheckConstraint("status IN ('outstanding', 'received', 'excused', 'cancelled')", name=op.f('ck_old_part_obligations_known_status')),
    sa.ForeignKeyConstraint(['disposed_by_user_id'], ['users.id'], name=op.f('fk_old_part_obligations_disposed_by_user_id_users')),
    sa.ForeignKeyConstraint(['excused_by_user_id'], ['users.id'], name=op.f('fk_old_part_obligations_excused_by_user_id_users')),
    sa.ForeignKeyConstraint(['installation_id'], ['part_installations.id'], name=op.f('fk_old_part_obligations_installation_id_part_installations')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_old_part_obligations_job_id_jobs')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_old_part_obligations_part_id_parts')),
    sa.ForeignKeyConstraint(['received_by_user_id'], ['users.id'], name=op.f('fk_old_part_obligations_received_by_user_id_users')),
    sa.ForeignKeyConstraint(['repaired_into_location_id'], ['stock_locations.id'], name=op.f('fk_old_part_obligations_repaired_into_location_id_stock_locations')),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_old_part_obligations_station_id_stations')),
    sa.ForeignKeyConstraint(['supplier_claim_id'], ['supplier_claims.id'], name=op.f('fk_old_part_obligations_supplier_claim_id_supplier_claims')),
    sa.ForeignKeyConstraint(['technician_id'], ['technicians.id'], name=op.f('fk_old_part_obligations_technician_id_technicians')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_old_part_obligations')),
    sa.UniqueConstraint('installation_id', name=op.f('uq_old_part_obligations_installation_id'))
    )
    with op.batch_alter_table('old_part_obligations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_old_part_obligations_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_old_part_obligations_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_old_part_obligations_station_id'), ['station_id'], unique=False)
        batch_op.create_index('ix_old_part_obligations_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_old_part_obligations_supplier_claim_id'), ['supplier_claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_old_part_obligations_technician_id'), ['technician_id'], unique=False)

    op.create_table('write_offs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('installation_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('part_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=80), nullable=True),
    sa.Column('requisition_line_id', sa.Integer(), nullable=True),
    sa.Column('written_off_at', backend.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['installation_id'], ['part_installations.id'], name=op.f('fk_write_offs_installation_id_part_installations')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_write_offs_job_id_jobs')),
    sa.ForeignKeyConstraint(['part_id'], ['parts.id'], name=op.f('fk_write_offs_part_id_parts')),
    sa.ForeignKeyConstraint(['requisition_line_id'], ['requisition_lines.id'], name=op.f('fk_write_offs_requisition_line_id_requisition_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_write_offs')),
    sa.UniqueConstraint('installation_id', name=op.f('uq_write_offs_installation_id'))
    )
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_write_offs_job_id'), ['job_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_write_offs_part_id'), ['part_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_write_offs_written_off_at'), ['written_off_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('write_offs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_write_offs_written_off_at'))
        batch_op.drop_index(batch_op.f('ix_write_offs_part_id'))
        batch_op.drop_index(batch_op.f('ix_write_offs_job_id'))

    op.drop_table('write_offs')
    with op.batch_alter_table('old_part_obligations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_old_part_obligations_technician_id'))
        batch_op.drop_index(batch_op.f('ix_old_part_obligations_supplier_claim_id'))
        batch_op.drop_index('ix_old_part_obligations_status_due')
        batch_op.drop_index(batch_op.f('ix_old_part_obligations_station_id'))
        batch_op.drop_index(batch_op.f('ix_old_part_obligations_part_id'))
        batch_op.drop_index(batch_op.f('ix_old_part_obligations_job_id'))

    op.drop_table('old_part_obligations')
    with op.batch_alter_table('part_installations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_part_installations_requisition_line_id'))
        batch_op.drop_index(batch_op.f('ix_part_installations_part_id'))
        batch_op.drop_index(batch_op.f('ix_part_installations_job_id'))

    op.drop_table('part_installations')
    with op.batch_alter_table('requisition_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requisition_lines_requisition_id'))
        batch_op.drop_index(batch_op.f('ix_requisition_lines_part_id'))

    op.drop_table('requisition_lines')
    with op.batch_alter_table('freight_charges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_freight_charges_status'))
        batch_op.drop_index(batch_op.f('ix_freight_charges_requisition_id'))

    op.drop_table('freight_charges')
    with op.batch_alter_table('requisitions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_requisitions_technician_id'))
        batch_op.drop_index(batch_op.f('ix_requisitions_status'))
        batch_op.drop_index(batch_op.f('ix_requisitions_job_id'))

    op.drop_table('requisitions')
    with op.batch_alter_table('supplier_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supplier_claims_supplier'))
        batch_op.drop_index(batch_op.f('ix_supplier_claims_status'))

    op.drop_table('supplier_claims')
