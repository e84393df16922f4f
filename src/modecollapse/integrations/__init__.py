"""Optional integrations with training frameworks (each needs its extra installed)."""
