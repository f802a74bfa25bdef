"""Settings: the environment (BORDERWATCH_*) read once, secret files, and the settings reference."""
