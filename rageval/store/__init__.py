"""Everything rageval keeps on disk: the output folder's format and pair folders, caches, atomic files."""
