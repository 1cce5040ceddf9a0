"""Statistics reports (Decree 91/2020 art. 10.7): one query layer (query.py), rendered as
text, JSON, CSV or a self-contained HTML page with inline SVG charts (render.py)."""
