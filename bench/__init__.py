"""The benchmark: ours against a tutorial-style Channels app, in one run (see bench/README.md)."""
