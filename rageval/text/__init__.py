"""Text and code analysis shared by loaders, chunkers and retrievers: lexical analysis, token units, tree-sitter."""
