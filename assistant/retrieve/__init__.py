"""From a query to ranked passages: lexical and dense search, fused; staff-search relevance."""
