"""First-party plugin: fggb (see plugins/README.md)."""
