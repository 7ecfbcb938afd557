"""What retrievers share: the path from a retriever to a run, top-k selection, fusion, the text encoder."""
