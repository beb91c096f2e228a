"""Understanding free text: tokenizer, rule layer, classifier, training data."""
