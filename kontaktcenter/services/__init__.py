"""Use-cases. Services validate, change, commit once, then enqueue jobs."""
