"""Monev (monitoring and evaluation): coverage and claim figures by region and month, and their suppression."""
