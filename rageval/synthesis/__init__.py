"""`rageval synth`: a span benchmark made from a user's own documents by a model, every span verified."""
