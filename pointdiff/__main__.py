"""`python -m pointdiff` runs the CLI."""

from pointdiff.cli.app import main

main()
