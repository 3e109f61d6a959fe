"""`python -m asl.cli` runs the `asl` command."""
from .main import main

main()
