"""Where bytes come from (sources), how they are parsed (idx), what datasets exist (datasets)."""
