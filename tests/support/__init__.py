"""Real components the tests start: a throwaway PostgreSQL server, free ports."""
