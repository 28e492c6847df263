"""Chinese text as every stage reads it: tokens, numerals and figures, headings and articles, places, questions."""
