"""Who reads the parts flow: shared by the views of the parts sub-packages."""

from backend.accounts.models import Role

# Technicians see their own; the office and the warehouse see all (the service layer narrows technicians).
FLOW_READERS = (Role.TECHNICIAN, Role.DISPATCHER, Role.SUPERVISOR, Role.WAREHOUSE, Role.MANAGER, Role.ADMIN)
BOOK_READERS = (Role.WAREHOUSE, Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
