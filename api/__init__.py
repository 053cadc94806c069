"""The composition root: app factory, settings, middleware and the CLI. Imports everything else."""
