"""Running the benchmark: every (dataset, chunker, retriever) pair, the executors, Ray work."""
