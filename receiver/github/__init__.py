"""GitHub mode: the REST adapter and the Action published into the user's own account."""
