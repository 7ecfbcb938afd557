"""Built-in text generators (entry-point group ``rageval.generators``): ``local`` and ``openai``."""
