"""Field service reports: the technician's findings, the customer's sign-off, the supervisor's approval."""
