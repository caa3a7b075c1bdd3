"""Storage seams: SQL, KV, vectors and encrypted files."""
