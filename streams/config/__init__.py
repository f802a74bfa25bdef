"""Configuration: the settings model and its reference page."""
