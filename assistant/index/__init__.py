"""Where chunks are kept and found: the Chroma store, the lexical segments, the embedders."""
