"""From a file to chunks: parse each format, clean, find the structure, derive metadata, chunk."""
