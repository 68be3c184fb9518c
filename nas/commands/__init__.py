"""One module per ``nas`` subcommand (auto-discovered by :mod:`nas.cli`)."""
