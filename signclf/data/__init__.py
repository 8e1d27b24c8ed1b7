"""Datasets: the readers for every on-disk layout, the synthetic GTSRB, and the `signclf data` work."""
