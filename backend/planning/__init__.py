"""Planning (RULES.md §11): joint dispatch plans and each technician's ordered day."""
