"""Decree 91/2020 art. 10.4: our own accounts' outbound mail, judged by Circular 22's criteria
with the thresholds of `outbound:`; accounts past a hard limit are suspended
(docs/outbound.md)."""
