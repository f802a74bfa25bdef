"""Settings: the environment (BORDERWATCH_*) read once, and secret files."""
