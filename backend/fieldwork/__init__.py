"""The technician's mobile flow for a job: accept, travel, arrive, work, escalate (RULES.md §4), and offline sync."""
