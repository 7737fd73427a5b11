"""First-party plugin: corrrise (see plugins/README.md)."""
