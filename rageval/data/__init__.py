"""The data model (documents, corpora, queries, qrels, datasets), TREC files and the dataset front door."""
