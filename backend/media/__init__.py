"""Media (signatures, stamps, photos): stored by content hash, sniffed before they are accepted."""
