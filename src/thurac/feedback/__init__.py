"""Spam reports → what they report (Circ. 22 art. 5.3: users report spam by forwarding it)."""
