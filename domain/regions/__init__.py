"""Regions: Kemendagri codes and levels, the region tables with their yearly figures, figure corrections."""
