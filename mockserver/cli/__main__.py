"""`python -m mockserver.cli` runs the same command line as `cryptorobot-mock`."""

from mockserver.cli import main

main()
