"""One extractor per legacy system; each yields raw Arrow tables with lineage columns."""
