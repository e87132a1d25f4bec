"""Backups of a whole installation (database, media, signing key) and their restore (`onsite backup`/`restore`)."""
