"""SQLite persistence for Debridge (WAL mode, versioned migrations)."""
