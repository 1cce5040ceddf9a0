"""Spam reports: ARF and forwarded-report parsing into complaints, and ARF reports we send."""
