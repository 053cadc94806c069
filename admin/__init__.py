"""The SQLAdmin back-office console (built with the console issue). Imports domain and auth."""
