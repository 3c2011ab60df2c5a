"""One module per scenario: challenge (a), flash sale (b), waiting room (c)."""
