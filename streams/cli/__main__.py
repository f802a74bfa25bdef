"""`python -m streams.cli`: the console script, as workers and tests start it."""

from streams.cli.commands import main

main()
