"""thurac: a milter that scores mail on Circular 22/2021/TT-BTTTT criteria, SPF, DKIM and DMARC."""

__version__ = "0.1.0"
