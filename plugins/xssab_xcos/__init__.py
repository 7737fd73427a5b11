"""First-party plugin: xcos (see plugins/README.md)."""
