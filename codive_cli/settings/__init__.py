"""Settings: the schema of codive.toml, loading it with the environment, choosing the
provider, and which folders' configuration the person trusts."""
