"""cot package."""
