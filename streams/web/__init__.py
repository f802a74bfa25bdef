"""Worker HTTP API: authentication and the views."""
