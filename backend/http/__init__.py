"""HTTP plumbing shared by every domain's blueprints: context, auth, problems, transactions."""
