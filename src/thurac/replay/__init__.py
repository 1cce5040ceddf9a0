"""`thurac replay`: every stored inbound message re-scored under another configuration, in
time order, against the history as it stood at that message (rebuilt in a scratch store),
with the DNS and content facts the event kept. Read-only on the live store; no DNS, no mail.

source.py reads the live store; rescore.py judges one message; run.py drives the scratch
store; summary.py counts what changed and renders it."""
