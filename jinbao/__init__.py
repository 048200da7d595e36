"""jinbao: consolidate five legacy social-insurance systems into one warehouse."""

__version__ = "0.1.0"
