"""The `loki` command line (`loki_mode.cli.main:main`)."""
