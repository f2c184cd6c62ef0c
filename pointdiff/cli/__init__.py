"""The command line: parses, calls the core, renders with Rich. Nothing else lives here."""
