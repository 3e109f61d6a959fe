"""The `asl` command."""
