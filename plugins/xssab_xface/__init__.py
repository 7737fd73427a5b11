"""First-party plugin: xface (see plugins/README.md)."""
