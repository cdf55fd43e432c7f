"""Org-scale scans: list every repository of an org, scan each on a pool or a Dask cluster."""
